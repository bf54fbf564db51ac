"""FastAPI application factory: the HTTP edge around the kernel's routes and the routers it is handed.

Resources open in the lifespan through the ``open_container`` the composition root passes in; the
routers of the services come from the registry, through the root (``neo_service_layer.bootstrap``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from neo_service_layer import __version__
from neo_service_layer.kernel.chain import routes as neo
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.console import mount_console
from neo_service_layer.kernel.container import OpenContainer
from neo_service_layer.kernel.http import health_routes as health
from neo_service_layer.kernel.http import operator_routes as operator
from neo_service_layer.kernel.http import system_routes as system
from neo_service_layer.kernel.http.errors import install_error_handlers
from neo_service_layer.kernel.http.idempotency import install_idempotency
from neo_service_layer.kernel.http.json_text import JsonTextMiddleware
from neo_service_layer.kernel.http.middleware import BodyLimitMiddleware, EdgeMiddleware
from neo_service_layer.kernel.http.openapi import API_PREFIX, install_openapi
from neo_service_layer.kernel.http.rate_limits import RateLimitMiddleware, rate_limited_handler
from neo_service_layer.kernel.http.route_index import install_route_index
from neo_service_layer.kernel.http.route_methods import RouteMethods
from neo_service_layer.kernel.idempotency.parts import idempotency_of
from neo_service_layer.kernel.identity.routes import api_keys, audit, auth, tenants, users
from neo_service_layer.kernel.identity.rules.rate_limits import RateLimited
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.observability.metrics import (
    HttpMetrics,
    exposition,
    register_tls_certificate_expiry,
)
from neo_service_layer.kernel.request_view import routes as request_view

log = get_logger("nsl.http")

_DOCS_STATIC = Path(fastapi_offline.__file__).parent / "static"


def build_app(
    settings: Settings,
    open_container: OpenContainer,
    *,
    registry: CollectorRegistry,
    routers: Sequence[APIRouter],
) -> FastAPI:
    """Build the API: the kernel's routes, then ``routers`` under ``/api/v1``."""
    if settings.tls_cert_file is not None:
        try:
            register_tls_certificate_expiry(registry, settings.tls_cert_file)
        except (OSError, ValueError) as exc:  # the server reports the unusable file when it loads it
            log.warning(
                "TLS certificate unreadable: no expiry metric",
                file=str(settings.tls_cert_file),
                error=str(exc),
            )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_container(settings, "api") as container:
            app.state.container = container
            app.state.idempotency = idempotency_of(container)
            yield

    app = FastAPI(
        title="Neo Service Layer",
        version=__version__,
        description="Trusted off-chain services for Neo N3 smart contracts.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        # FastAPI's own OpenTelemetry (0.165) would add a second server span and three operation spans
        # to every request once tracing is on; the edge middleware's span, the Prometheus metrics and
        # the structlog pipeline are this service's, so FastAPI's are off
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    install_idempotency(app)
    app.add_exception_handler(RateLimited, rate_limited_handler)
    app.include_router(health.router)
    app.include_router(auth.wellknown)
    api_routers = [system.router, operator.router, auth.router, tenants.router, users.router, api_keys.router]
    api_routers += [audit.router, neo.router, request_view.router, *routers]
    # each router straight into the app, not through one /api/v1 router: FastAPI (>= 0.137) matches an
    # included router's candidates again at each level of nesting, which was 20 % of a read's CPU
    for router in api_routers:
        app.include_router(router, prefix=API_PREFIX)
    app.state.route_methods = RouteMethods.of([("", health.router), ("", auth.wellknown)]).joined(
        RouteMethods.of([(API_PREFIX, r) for r in api_routers])
    )
    install_openapi(app)
    _add_docs(app)
    mount_console(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(exposition(registry), media_type=CONTENT_TYPE_LATEST)

    # a request walks only the routers whose paths can match it (the walk over all of them was 19 %)
    included = [("", health.router), ("", auth.wellknown), *((API_PREFIX, r) for r in api_routers)]
    install_route_index(app, included)
    app.add_middleware(JsonTextMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimitMiddleware, trusted_proxies=settings.trusted_proxies)
    app.add_middleware(EdgeMiddleware, metrics=HttpMetrics(registry))
    return app


def _add_docs(app: FastAPI) -> None:
    """Interactive docs served from bundled assets (no CDN: the API may run without internet)."""
    app.mount("/static/docs", StaticFiles(directory=_DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Neo Service Layer — API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="Neo Service Layer — API",
            redoc_js_url="/static/docs/redoc.standalone.js",
            redoc_favicon_url="/static/docs/favicon.png",
            with_google_fonts=False,
        )
