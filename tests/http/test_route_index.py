"""The route index picks, for every path the app serves, the same route FastAPI's full walk picks.

The index (``kernel/http/route_index.py``) narrows the app's route list to the nodes whose literal
segments can match a path. Here the real app is built, a concrete path is made from every route it
serves (and from variants: a trailing slash, an extra segment, unknown paths), and for each method the
node the narrowed list selects is compared with the node the full list selects, the way Starlette's
router selects: the first full match, else the first partial one (a 405).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from starlette.routing import Match
from starlette.staticfiles import StaticFiles

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.http.route_index import RouteIndex, install_route_index, literal_key, segments
from tests.http.identity.test_route_scopes import api_routes

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _selected(nodes: Iterable[Any], path: str, method: str) -> tuple[Match, int | None]:
    scope = {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}
    partial: int | None = None
    for node in nodes:
        match, _ = node.matches(dict(scope))
        if match == Match.FULL:
            return Match.FULL, id(node)
        if match == Match.PARTIAL and partial is None:
            partial = id(node)
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def _concrete(path_format: str) -> str:
    return re.sub(r"\{[^}:]+:path\}", "a/b", re.sub(r"\{[^}:]+\}", "x1", path_format))


def test_literal_keys() -> None:
    assert literal_key("/api/v1/keys/{key_id}/sign") == ("api", "v1", "keys")
    assert literal_key("/api/v1/keys") == ("api", "v1", "keys")
    assert literal_key("/api/v1/requests/{service}/{request_id}") == ("api", "v1", "requests")
    assert literal_key("/api/{version}/x") == ("api",)
    assert literal_key("/files/v{n}") == ("files",)  # the segment the parameter shares is not literal
    assert literal_key("/{anything}") == ()
    assert literal_key("/health") == ("health",)
    assert segments("/") == ()
    assert segments("/api/v1/keys/") == ("api", "v1", "keys")


def _assert_same_selection(app: FastAPI, paths: set[str]) -> int:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex), "the index is installed"
    everything = list(app.router.routes)
    for node in everything:
        path = getattr(node, "path", None)
        if isinstance(path, str):
            paths = paths | {_concrete(path), _concrete(path) + "/"}
    compared = 0
    for path in sorted(paths):
        narrowed = index.candidates(path).routes
        for method in METHODS:
            assert _selected(narrowed, path, method) == _selected(everything, path, method), (method, path)
            compared += 1
    return compared


def test_the_index_selects_what_the_full_walk_selects(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings())
    paths = {"/", "/nowhere", "/api", "/api/v1", "/api/v1/", "/api/v1/nowhere/x", "/console", "/console/"}
    paths |= {"/console/app.js", "/static/docs/swagger-ui.css", "/metrics", "/openapi.json", "/docs"}
    for full_path, _ in api_routes(list(app.router.routes)):
        concrete = _concrete(full_path)
        paths |= {concrete, concrete + "/", concrete.rstrip("/") + "/extra"}
    assert _assert_same_selection(app, paths) > 5 * 150


def test_parameters_early_in_a_path_and_shared_prefixes() -> None:
    """Routers whose paths share a prefix at different depths: a parameter in the second segment
    before a router with a literal one (``/api/items/list`` is the first router's), a parameter sharing
    a segment, a mount, a route added to the app itself."""
    app = FastAPI()
    items, anything, deep = APIRouter(prefix="/items"), APIRouter(), APIRouter(prefix="/a/b/c")
    files = APIRouter(prefix="/files")
    files.add_api_route("/v{n}", _endpoint, methods=["GET"])
    items.add_api_route("/{item_id}", _endpoint, methods=["GET"])
    items.add_api_route("/special", _endpoint, methods=["POST"])
    anything.add_api_route("/{kind}/list", _endpoint, methods=["GET"])
    anything.add_api_route("/v{n}/x", _endpoint, methods=["DELETE"])
    deep.add_api_route("/d", _endpoint, methods=["PUT"])
    deep.add_api_route("/", _endpoint, methods=["GET"])
    included = [("/api", anything), ("/api", items), ("", deep), ("", files)]
    for prefix, router in included:
        app.include_router(router, prefix=prefix)
    app.mount("/api/static", StaticFiles(directory=Path(__file__).parent), name="files")
    app.add_api_route("/api/items/{item_id}/raw", _endpoint, methods=["GET"])
    install_route_index(app, included)
    paths = {"/api/items/special", "/api/items/7", "/api/items/list", "/api/v2/x", "/api/v2/list", "/a/b/c"}
    paths |= {"/a/b/c/", "/a/b/c/d", "/a/b/c/d/", "/a/b", "/api/static/x.py", "/api/static"}
    paths |= {"/api/items/7/raw", "/files/v2", "/files/v", "/files/2"}
    assert _assert_same_selection(app, paths) >= 5 * len(paths)


async def _endpoint() -> None:
    return None


def test_every_api_router_is_keyed_and_a_read_walks_few(make_settings: Callable[..., Settings]) -> None:
    """A FastAPI upgrade that renames what the index reads would key every router as "any path":
    still correct, but the walk would be back; this fails first."""
    app = create_app(make_settings())
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    unkeyed = [node for node in app.router.routes if () in index.node_keys(node)]
    assert unkeyed == []
    keys_view = index.candidates("/api/v1/keys/x1/sign").routes
    assert 1 <= len(keys_view) <= 3 < len(app.router.routes) // 4


async def test_a_route_added_after_build_is_served(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings())

    @app.get("/added-later/{thing}")
    async def added(thing: str) -> dict[str, str]:
        return {"thing": thing}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/added-later/seven")
        missing = await client.get("/api/v1/nowhere")
    assert answer.json() == {"thing": "seven"}
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
