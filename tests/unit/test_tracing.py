from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind, StatusCode

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.observability.tracing import (
    SERVICE_NAME,
    add_trace_context,
    configure_tracing,
    get_tracer,
    shutdown_tracing,
    traced,
    traces_url,
)

MakeSettings = Callable[..., Settings]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(make_settings: MakeSettings, exporter: InMemorySpanExporter) -> TracerProvider:
    configured = configure_tracing(make_settings(), "worker", exporter=exporter, set_global=False)
    assert configured is not None
    return configured


def test_tracing_is_off_without_an_endpoint(make_settings: MakeSettings) -> None:
    assert configure_tracing(make_settings(), set_global=False) is None
    shutdown_tracing(None)


def test_an_endpoint_switches_on_otlp_export(make_settings: MakeSettings) -> None:
    provider = configure_tracing(make_settings(otlp_endpoint="http://127.0.0.1:9/"), "api", set_global=False)
    assert provider is not None
    processors = provider._active_span_processor._span_processors
    assert [type(p) for p in processors] == [BatchSpanProcessor]
    exporter = processors[0].span_exporter
    assert exporter._endpoint == "http://127.0.0.1:9/v1/traces"
    # nothing was recorded, so shutting down sends nothing to the (closed) port
    shutdown_tracing(provider)


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("https://collector:4318/", "https://collector:4318/v1/traces"),
        ("https://tempo.example/otlp/v1/traces", "https://tempo.example/otlp/v1/traces"),
    ],
)
def test_traces_url(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url


@pytest.mark.parametrize("endpoint", ["collector:4318", "ftp://collector", "http://"])
def test_traces_url_refuses_non_http_endpoints(endpoint: str) -> None:
    with pytest.raises(ValueError, match="NSL_OTLP_ENDPOINT"):
        traces_url(endpoint)


async def test_traced_records_nested_spans_with_attributes_and_resource(
    provider: TracerProvider, exporter: InMemorySpanExporter, make_settings: MakeSettings
) -> None:
    tracer = get_tracer(provider)
    async with traced("worker.fulfil", {"request.id": "r-1"}, tracer=tracer) as outer:
        outer.set_attribute("tenant", "t-1")
        async with traced("enclave.sign", {"key.id": "k-1"}, tracer=tracer, kind=SpanKind.CLIENT):
            pass
    inner_span, outer_span = exporter.get_finished_spans()
    assert (outer_span.name, inner_span.name) == ("worker.fulfil", "enclave.sign")
    assert inner_span.parent is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert inner_span.context.trace_id == outer_span.context.trace_id
    assert inner_span.kind is SpanKind.CLIENT
    assert dict(outer_span.attributes or {}) == {"request.id": "r-1", "tenant": "t-1"}
    assert dict(inner_span.attributes or {}) == {"key.id": "k-1"}
    resource = dict(outer_span.resource.attributes)
    assert resource["service.name"] == SERVICE_NAME
    assert resource["nsl.role"] == "worker"
    assert resource["deployment.environment"] == make_settings().env.value
    assert outer_span.status.status_code is StatusCode.UNSET


async def test_traced_marks_the_span_failed_and_reraises(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(TimeoutError):
        async with traced("chain.send", tracer=get_tracer(provider)):
            raise TimeoutError("rpc timed out")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert (span.events[0].attributes or {})["exception.type"] == "TimeoutError"


async def test_log_events_carry_the_current_span_ids(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with traced("db.transaction", tracer=get_tracer(provider)):
        event = add_trace_context(None, "info", {"event": "inside"})
    (span,) = exporter.get_finished_spans()
    assert event["trace_id"] == format(span.context.trace_id, "032x")
    assert event["span_id"] == format(span.context.span_id, "016x")
    assert len(event["trace_id"]) == 32
    assert len(event["span_id"]) == 16


def test_log_events_outside_a_span_are_unchanged() -> None:
    assert add_trace_context(None, "info", {"event": "outside"}) == {"event": "outside"}


async def test_traced_with_the_no_op_provider_records_nothing() -> None:
    async with traced("enclave.status", tracer=get_tracer(NoOpTracerProvider())) as span:
        assert not span.is_recording()
    assert add_trace_context(None, "info", {"event": "x"}) == {"event": "x"}
