"""Every /api/v1 route declares the scope it needs (or is on the short list of public routes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi.routing import APIRoute

from neo_service_layer.bootstrap import create_app, scope_catalogue
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.http.security import declared_scopes

PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
    ("GET", "/api/v1/system/info"),
    # the other designated oracle nodes' submitoracleresponse: authenticated by a signature under a key
    # designated for the Oracle role, as on neo-go (docs/oracle.md)
    ("POST", "/api/v1/native-oracle/rpc"),
}
AUTHENTICATED_ONLY = {
    ("GET", "/api/v1/auth/me"),
    # any one of the request services' scopes (or platform:admin), checked in the route per service
    # (kernel/request_view/rules.py SERVICE_SCOPES; tests/http/request_view)
    ("GET", "/api/v1/requests"),
    ("GET", "/api/v1/requests/{service}/{request_id}"),
}


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, through included routers (plain or lazily included)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from api_routes(included.routes, prefix + str(getattr(context, "prefix", "")))


def test_every_api_route_declares_a_known_scope(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings())
    known = scope_catalogue().all_scopes
    checked = 0
    for path, route in api_routes(list(app.routes)):
        if not path.startswith("/api/v1/"):
            continue
        for method in route.methods:
            if (method, path) in PUBLIC | AUTHENTICATED_ONLY:
                continue
            scopes = declared_scopes(route.dependant)
            assert scopes, f"{method} {path} declares no scope"
            assert set(scopes) <= known, f"{method} {path}: unknown scope {scopes}"
            checked += 1
    assert checked >= 14
