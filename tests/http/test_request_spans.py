"""With tracing on, a request is one server span: the edge's, in the caller's trace when it sends one.

Tracing is switched on process-wide (``configure_tracing`` sets OpenTelemetry's global provider, once per
process), so each case runs in a fresh interpreter that prints the finished spans as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fresh_interpreter import run_json

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"

SCRIPT = """
import asyncio, json, sys
import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.observability.tracing import configure_tracing, process_tracing

settings = Settings(data_dir=sys.argv[1])
before = process_tracing()
exporter = InMemorySpanExporter()
configure_tracing(settings, "api", exporter=exporter)
app = create_app(settings)

async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path, headers in json.loads(sys.argv[2]):
            await client.get(path, headers=headers)

asyncio.run(main())
print(json.dumps({"before": before, "after": process_tracing(), "spans": [
    {
        "name": span.name,
        "kind": span.kind.name,
        "scope": span.instrumentation_scope.name,
        "trace": format(span.context.trace_id, "032x"),
        "parent": format(span.parent.span_id, "016x") if span.parent else None,
        "attributes": dict(span.attributes),
    }
    for span in exporter.get_finished_spans()
]}))
"""


def _spans(tmp_path: Path, requests: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    result: dict[str, Any] = run_json(SCRIPT, str(tmp_path), json.dumps(requests))
    return result


def test_a_request_is_one_server_span_of_the_service(tmp_path: Path) -> None:
    result = _spans(tmp_path, [("/health/live", {}), ("/no/such/route", {})])
    assert (result["before"], result["after"]) == (False, True)
    live, missing = result["spans"]  # FastAPI's own request and operation spans would come first
    assert live["name"] == "GET /health/live"
    assert (live["kind"], live["scope"], live["parent"]) == ("SERVER", "neo_service_layer", None)
    assert live["attributes"] == {
        "http.request.method": "GET",
        "http.route": "/health/live",
        "http.response.status_code": 200,
    }
    assert missing["name"] == "GET <unmatched>"
    assert missing["attributes"]["http.response.status_code"] == 404


def test_the_server_span_continues_the_callers_trace(tmp_path: Path) -> None:
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    result = _spans(tmp_path, [("/health/live", {"traceparent": traceparent}), ("/health/live", {})])
    joined, fresh = result["spans"]
    assert (joined["trace"], joined["parent"]) == (CALLER_TRACE, CALLER_SPAN)
    assert joined["kind"] == "SERVER"
    assert fresh["trace"] != CALLER_TRACE
    assert fresh["parent"] is None


def test_a_malformed_traceparent_starts_a_new_trace(tmp_path: Path) -> None:
    result = _spans(tmp_path, [("/health/live", {"traceparent": "00-not-a-trace-01"})])
    (span,) = result["spans"]
    assert span["parent"] is None
    assert span["attributes"]["http.response.status_code"] == 200
