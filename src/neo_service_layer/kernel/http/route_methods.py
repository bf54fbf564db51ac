"""The methods each path serves, for the ``Allow`` header of a 405."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.routing import APIRoute


@dataclass(frozen=True, slots=True)
class RouteMethods:
    """Which methods the routes serve at which paths, built once when the app is: a 405 names them all
    in ``Allow`` (Starlette names only those of the first route whose path matched)."""

    #: (path regex, number of path parameters, methods)
    routes: tuple[tuple[re.Pattern[str], int, frozenset[str]], ...]

    @classmethod
    def of(cls, routers: list[tuple[str, APIRouter]]) -> RouteMethods:
        found: list[tuple[re.Pattern[str], int, frozenset[str]]] = []
        for prefix, router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and route.methods:
                    pattern = "^" + re.escape(prefix) + route.path_regex.pattern.removeprefix("^")
                    found.append((re.compile(pattern), len(route.param_convertors), frozenset(route.methods)))
        return cls(tuple(found))

    def joined(self, other: RouteMethods) -> RouteMethods:
        return RouteMethods(self.routes + other.routes)

    def allowed(self, path: str) -> list[str]:
        """The methods of the most specific paths matching: ``/keys/verify`` is not ``/keys/{key_id}``."""
        matching = [(params, methods) for regex, params, methods in self.routes if regex.match(path)]
        if not matching:
            return []
        fewest = min(params for params, _ in matching)
        return sorted({m for params, methods in matching if params == fewest for m in methods})
