"""Distributed tracing with OpenTelemetry: spans exported by OTLP/HTTP when an endpoint is configured.

Off by default: without ``NSL_OTLP_ENDPOINT`` nothing is set up, the OpenTelemetry API stays a no-op
and :func:`traced` costs next to nothing. With it, :func:`configure_tracing` installs an SDK tracer
provider whose batch processor sends spans to ``<endpoint>/v1/traces`` (an OpenTelemetry Collector,
Jaeger, Tempo, ...). Sampling follows the SDK's standard variables (``OTEL_TRACES_SAMPLER``,
``OTEL_TRACES_SAMPLER_ARG``); the default samples every trace whose parent is sampled.

Log events carry the ids of the span they were written in (:func:`add_trace_context`), so a log line
leads to its trace and back.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Tracer
from opentelemetry.util.types import AttributeValue

from neo_service_layer import __version__
from neo_service_layer.kernel.config import Settings

INSTRUMENTATION_NAME = "neo_service_layer"
SERVICE_NAME = "neo-service-layer"
TRACES_PATH = "/v1/traces"

#: set once, by :func:`configure_tracing` making its provider the process's
_process_tracing = False
#: the W3C trace-context headers a server span continues the caller's trace from
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})

Attributes = Mapping[str, AttributeValue]


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for ``endpoint``: a bare collector address gets ``/v1/traces``.

    Args:
        endpoint: ``http(s)://host:port`` or a full URL that already names the traces path.

    Returns:
        The URL the exporter posts to.

    Raises:
        ValueError: the endpoint is not an http or https URL with a host.
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"NSL_OTLP_ENDPOINT must be an http(s) URL with a host, not {endpoint!r}")
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + TRACES_PATH
    return endpoint


def configure_tracing(
    settings: Settings,
    role: str = "api",
    *,
    exporter: SpanExporter | None = None,
    set_global: bool = True,
) -> TracerProvider | None:
    """Set up tracing for this process when ``settings.otlp_endpoint`` is set (or an exporter is given).

    Args:
        settings: the process settings; ``otlp_endpoint`` switches tracing on.
        role: the process role (``api``, ``worker``, ``enclave``), recorded on every span.
        exporter: export here instead of OTLP, synchronously (tests pass an in-memory exporter).
        set_global: make the provider the process-wide one that :func:`traced` uses by default.
            OpenTelemetry accepts that only once per process.

    Returns:
        The provider (call :func:`shutdown_tracing` with it on exit to flush), or ``None`` when off.
    """
    processor: SpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    elif settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint)))
    else:
        return None
    resource = Resource.create(
        {
            "service.name": SERVICE_NAME,
            "service.version": __version__,
            "nsl.role": role,
            "deployment.environment": settings.env.value,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor)
    if set_global:
        trace.set_tracer_provider(provider)
        global _process_tracing
        _process_tracing = True
    return provider


def process_tracing() -> bool:
    """True once :func:`configure_tracing` made its provider the process's: spans are recorded.

    Hot paths (every request) skip building spans that the no-op provider would throw away.
    """
    return _process_tracing


def caller_context(headers: Iterable[tuple[bytes, bytes]]) -> Context:
    """The caller's trace from W3C ``traceparent``/``tracestate`` request headers (ASGI raw headers).

    A server span started in it joins the caller's trace; without those headers it starts a new one.
    Whether it is sampled follows the caller's flag under the SDK's default parent-based sampler
    (``OTEL_TRACES_SAMPLER`` changes that).
    """
    carrier = {
        name.decode("latin-1"): value.decode("latin-1") for name, value in headers if name in _TRACE_HEADERS
    }
    return propagate.extract(carrier)


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Flush and stop the exporter of ``provider`` (nothing when tracing is off)."""
    if provider is not None:
        provider.shutdown()


def get_tracer(provider: trace.TracerProvider | None = None) -> Tracer:
    """The service layer's tracer from ``provider``, or from the process-wide provider."""
    if provider is None:
        return _process_tracer()
    return trace.get_tracer(INSTRUMENTATION_NAME, __version__, tracer_provider=provider)


@functools.cache
def _process_tracer() -> Tracer:
    # Looked up once (the lookup reads the environment; spans start on every request and transaction).
    # Before configure_tracing this is OpenTelemetry's proxy, which follows the provider set later.
    return trace.get_tracer(INSTRUMENTATION_NAME, __version__)


@asynccontextmanager
async def traced(
    name: str,
    attributes: Attributes | None = None,
    *,
    tracer: Tracer | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    context: Context | None = None,
) -> AsyncIterator[Span]:
    """Run the body of ``async with`` inside a span named ``name``, current for everything it awaits.

    An exception leaving the body is recorded on the span, which is marked as an error, and re-raised.

    Args:
        name: the operation, ``<area>.<what>`` (``enclave.sign``, ``db.transaction``, ``chain.send``).
        attributes: span attributes; never put a secret, key or token here.
        tracer: the tracer to use; by default the process-wide one (a no-op when tracing is off).
        kind: ``CLIENT`` for calls to another process, ``SERVER`` for handled requests.
        context: the parent to start in (:func:`caller_context`); by default the current span.

    Returns:
        An async context manager yielding the span, for adding attributes or events.
    """
    active = tracer or get_tracer()
    with active.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=dict(attributes) if attributes else None,
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        yield span


def add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: add ``trace_id`` and ``span_id`` (hex) of the current span, if one is recording.

    Outside a span, or with tracing off, the event is left as it is.
    """
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
