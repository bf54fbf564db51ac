"""The HTTP edge in process: problem shapes, request ids, security headers, limits, metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from neo_service_layer.bootstrap import create_app
from neo_service_layer.enclave.wire.errors import Conflict, NotFound
from neo_service_layer.kernel.config import Settings
from tests.http.appclient import app_client

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "correlation_id"}


class Order(BaseModel):
    amount: int = Field(gt=0)
    pair: str = Field(min_length=3)


def _with_test_routes(app: FastAPI) -> FastAPI:
    @app.post("/api/v1/test/orders/{order_id}")
    async def create(order_id: int, order: Order) -> dict[str, int]:
        return {"order_id": order_id, "amount": order.amount}

    @app.get("/api/v1/test/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail: db password is hunter2")

    @app.get("/api/v1/test/missing")
    async def missing() -> None:
        raise NotFound("order 7 does not exist")

    @app.get("/api/v1/test/conflict")
    async def conflict() -> None:
        raise Conflict("already fulfilled")

    return app


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    app = _with_test_routes(create_app(make_settings(max_body_bytes=1024), migrate=True))
    async with app_client(app) as c:
        yield c


def _assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["correlation_id"] == response.headers["x-request-id"]
    return dict(body)


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    body = _assert_problem(await client.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"
    assert str(body["type"]).endswith("/not-found")


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    _assert_problem(await client.delete("/health/live"), 405)


async def test_validation_errors_list_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/test/orders/abc", json={"amount": 0})
    body = _assert_problem(response, 422)
    fields = {e["field"]: e for e in body["errors"]}  # type: ignore[attr-defined]
    assert set(fields) == {"path.order_id", "body.amount", "body.pair"}
    assert fields["body.pair"]["type"] == "missing"


async def test_malformed_json_is_a_client_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/test/orders/1", content=b"{not json", headers={"content-type": "application/json"}
    )
    _assert_problem(response, 422)


async def test_domain_errors_map_to_statuses(client: httpx.AsyncClient) -> None:
    missing = _assert_problem(await client.get("/api/v1/test/missing"), 404)
    assert missing["detail"] == "order 7 does not exist"
    _assert_problem(await client.get("/api/v1/test/conflict"), 409)


async def test_unhandled_error_is_500_problem_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/v1/test/boom", headers={"x-request-id": "req-boom-0001"})
    body = _assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["correlation_id"] == "req-boom-0001"
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


async def test_request_id_is_propagated_when_sane_and_replaced_otherwise(client: httpx.AsyncClient) -> None:
    ok = await client.get("/health/live", headers={"x-request-id": "abc-123_DEF.456"})
    assert ok.headers["x-request-id"] == "abc-123_DEF.456"
    for bad in ("short", "has space in it!", "x" * 200, "inject\tme-please"):
        response = await client.get("/health/live", headers={"x-request-id": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32
    assert (await client.get("/health/live")).headers["x-request-id"]


async def test_security_headers_on_success_and_error(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/health/live"), await client.get("/nope")):
        headers = response.headers
        assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "camera=()" in headers["permissions-policy"]
        assert "server" not in headers


async def test_docs_are_served_from_bundled_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/static/docs/swagger-ui-bundle.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert (await client.get("/static/docs/swagger-ui-bundle.js")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/system/info" in spec["paths"]


async def test_declared_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/test/orders/1", content=b"x" * 2048)
    _assert_problem(response, 413)


async def test_streamed_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b'{"pad": "' + b"y" * 200 + b'"}'

    response = await client.post("/api/v1/test/orders/1", content=chunks())
    _assert_problem(response, 413)


async def test_body_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/test/orders/5", json={"amount": 3, "pair": "NEO/GAS"})
    assert response.status_code == 200
    assert response.json() == {"order_id": 5, "amount": 3}


async def test_metrics_are_labelled_by_route_template(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/test/orders/5", json={"amount": 3, "pair": "NEO/GAS"})
    await client.post("/api/v1/test/orders/6", json={"amount": 3, "pair": "NEO/GAS"})
    await client.get("/no/such/route")
    text = (await client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in families["nsl_http_requests"].samples
        if s.name == "nsl_http_requests_total"
    }
    assert requests[("/api/v1/test/orders/{order_id}", "POST", "200")] == 2
    assert requests[("<unmatched>", "GET", "404")] == 1
    assert all("/orders/5" not in route for route, _, _ in requests)
    histogram = families["nsl_http_request_duration_seconds"]
    assert any(s.name.endswith("_bucket") for s in histogram.samples)
    assert "nsl_http_requests_in_flight" in families


async def test_ready_reports_components(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["workers"]["critical"] is False


async def test_system_info_reads_the_schema_revision(client: httpx.AsyncClient) -> None:
    info = (await client.get("/api/v1/system/info")).json()
    assert info["schema_current"] is True
    assert info["schema_revision"] == info["schema_head"]
    json.dumps(info)
