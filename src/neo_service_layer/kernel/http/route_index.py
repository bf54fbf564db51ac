"""A prefix index in front of the app's route list: a request is matched only against the routes that
can match its path.

Since FastAPI 0.137 each included router stays one node of the app's route list, and every request asks
each node in turn whether it matches, a walk over that router's routes, until one does. With 35 routers
that walk was 19 % of a cached authenticated read's CPU (``bench/RESULTS.md``). The index keys each node
by the whole literal segments its paths begin with (``/api/v1/keys/{key_id}`` -> ``api/v1/keys``) and
hands each request to FastAPI's own router code over the nodes, in their order, whose keys can match its
path. Matching, 404, 405 and slash redirects stay FastAPI's; a node whose paths cannot be read is kept
in every list, so what the index does not understand costs speed, never a route.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

#: how many leading segments key a node; three reach ``/api/v1/<service>``
DEPTH = 3

Key = tuple[str, ...]


def segments(path: str) -> Key:
    """The segments of a path, without the empty ones a leading or trailing slash makes."""
    stripped = path.strip("/")
    return tuple(stripped.split("/")) if stripped else ()


def literal_key(path_format: str) -> Key:
    """The whole segments a route's path begins with before its first parameter, at most ``DEPTH``."""
    brace = path_format.find("{")
    if brace >= 0:
        head = path_format[:brace]
        path_format = head[: head.rfind("/") + 1]  # a segment the parameter shares is not literal
    return segments(path_format)[:DEPTH]


def _route_keys(prefix: str, routes: Iterable[object]) -> frozenset[Key]:
    keys: set[Key] = set()
    for route in routes:
        path = getattr(route, "path_format", None) or getattr(route, "path", None)
        if not isinstance(path, str):
            return frozenset({()})  # a host route or a nested router: a candidate for every path
        keys.add(literal_key(prefix + path))
    return frozenset(keys)


class RouteIndex:
    """The app router's ``middleware_stack``: picks the candidate nodes, then runs the router's code."""

    def __init__(self, router: APIRouter, included: Sequence[tuple[str, APIRouter]]) -> None:
        self._router = router
        prefixes: dict[int, list[str]] = {}
        for prefix, included_router in included:
            prefixes.setdefault(id(included_router), []).append(prefix)
        self._prefixes = prefixes
        self._views: dict[Key, APIRouter] = {}
        self._size = -1

    def node_keys(self, node: object) -> frozenset[Key]:
        """The keys of one node of the app's route list (``()``: it may match any path)."""
        original = getattr(node, "original_router", None)
        if original is None:
            return _route_keys("", [node])
        prefixes = self._prefixes.get(id(original), [])
        if len(prefixes) != 1:  # not included by the app factory, or included twice
            return frozenset({()})
        return _route_keys(prefixes[0], original.routes)

    def _rebuild(self) -> None:
        nodes = list(self._router.routes)
        keyed = [(node, self.node_keys(node)) for node in nodes]
        every = {key[:i] for _, keys in keyed for key in keys for i in range(len(key) + 1)}
        views: dict[Key, APIRouter] = {}
        for key in every:
            reachable = {key[:i] for i in range(len(key) + 1)}
            view = copy.copy(self._router)
            view.routes = [node for node, keys in keyed if keys & reachable]
            views[key] = view
        self._views = views
        self._size = len(nodes)

    def candidates(self, path: str) -> APIRouter:
        """A router over the nodes that can match ``path``, in the app's order."""
        if len(self._router.routes) != self._size:  # a route added after the app was built
            self._rebuild()
        key = segments(path)[:DEPTH]
        while key not in self._views:  # () is always there: the longest known prefix wins
            key = key[:-1]
        return self._views[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or scope.get("root_path"):
            await self._router.app(scope, receive, send)
            return
        scope.setdefault("router", self._router)  # url_path_for sees every route, not the view's
        await self.candidates(scope["path"]).app(scope, receive, send)


def install_route_index(app: FastAPI, included: Sequence[tuple[str, APIRouter]]) -> RouteIndex | None:
    """Put the index in front of ``app``'s routes; ``None`` when the router has its own middleware."""
    router = app.router
    if router.middleware_stack != router.app:
        return None
    index = RouteIndex(router, included)
    router.middleware_stack = index
    return index
