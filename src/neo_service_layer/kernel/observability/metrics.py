"""Prometheus metrics. One registry per process (or per app in tests), never the global default.

Naming scheme: ``nsl_<area>_<what>_<unit>``; counters end in ``_total``. The full list is in
``docs/metrics.md``; a test checks that dashboards and alert rules only use names registered here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from neo_service_layer import __version__

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """RED metrics of the HTTP API, labelled by route template (never the raw path)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "nsl_http_requests_total",
            "HTTP requests answered.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "nsl_http_request_duration_seconds",
            "Time from request start to the end of the response body.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "nsl_http_requests_in_flight",
            "HTTP requests being processed (by method: the route is only known once routing is done).",
            ["method"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._answered: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._in_flight: dict[str, Gauge] = {}

    def started(self, method: str) -> Gauge:
        """The in-flight gauge of ``method``, to ``inc`` now and ``dec`` when the request is answered."""
        gauge = self._in_flight.get(method)
        if gauge is None:
            gauge = self._in_flight[method] = self.in_flight.labels(method)
        return gauge

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration.

        The labelled children are kept (``labels()`` validates and locks on every call, a few µs per
        request); the keys are bounded: route templates, the methods the HTTP parser knows, statuses.
        """
        children = self._answered.get((route, method, status))
        if children is None:
            labels = (route, method, str(status))
            children = self.requests.labels(*labels), self.latency.labels(*labels)
            self._answered[route, method, status] = children
        children[0].inc()
        children[1].observe(seconds)


class ComponentMetrics:
    """Readiness of each dependency, as last seen by ``/health/ready``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.up = Gauge(
            "nsl_component_up",
            "1 when the component answered its last readiness check, else 0.",
            ["component"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.check_seconds = Histogram(
            "nsl_component_check_duration_seconds",
            "Duration of readiness checks.",
            ["component"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class _InfoOnly(Collector):
    """The ``Info`` metrics of a registry: the only kind prometheus-client keeps per process only."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return [metric for metric in self._registry.collect() if metric.type == "info"]


def exposition(registry: CollectorRegistry) -> bytes:
    """The text ``/metrics`` answers: this process's registry, or, when ``nsl serve`` runs several API
    processes (it sets ``PROMETHEUS_MULTIPROC_DIR`` before starting them), every process's counters
    and histograms summed and each gauge by its ``multiprocess_mode``, whichever process is asked."""
    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if not directory:
        return generate_latest(registry)
    combined = CollectorRegistry()
    MultiProcessCollector(combined, path=directory)  # type: ignore[no-untyped-call]
    combined.register(_InfoOnly(registry))
    return generate_latest(combined)


def create_registry(role: str) -> CollectorRegistry:
    """A fresh registry carrying ``nsl_build_info`` for this process role."""
    registry = CollectorRegistry(auto_describe=True)
    Info("nsl_build", "Version and role of this process.", registry=registry).info(
        {"version": __version__, "role": role}
    )
    return registry


class KeyMetrics:
    """Keys held by the enclave: rotation backlog and signatures made through the API."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rotation_due = Gauge(
            "nsl_keys_rotation_due",
            "Active keys whose current version is older than NSL_KEY_MAX_AGE_DAYS (refreshed every minute).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.signatures = Counter(
            "nsl_keys_signatures_total",
            "Signatures made by the enclave for API requests, by key kind and endpoint (sign or batch).",
            ["kind", "endpoint"],
            registry=registry,
        )


class EnclaveMetrics:
    """What the enclave says about itself, as last seen by the readiness check (``/health/ready``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.simulation = Gauge(
            "nsl_enclave_simulation",
            "1 when the enclave reports mode simulation (keys protected only by the host), 0 when it"
            " runs on TEE hardware; NaN until a readiness check has reached the enclave.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.simulation.set(math.nan)

    def mode(self, mode: str) -> None:
        self.simulation.set(1 if mode == "simulation" else 0)


def register_tls_certificate_expiry(registry: CollectorRegistry, cert_file: Path) -> float:
    """Register ``nsl_tls_certificate_expiry_timestamp_seconds`` for the API's own certificate.

    Read once, when the app is created: the server loads the same file once at start, so the gauge
    describes the certificate actually served (a renewed file takes effect at the next restart).
    Returns the expiry as a Unix time.
    """
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    expiry = certificate.not_valid_after_utc.timestamp()
    Gauge(
        "nsl_tls_certificate_expiry_timestamp_seconds",
        "Unix time at which the API's TLS certificate (NSL_TLS_CERT_FILE, first in the file) expires.",
        registry=registry,
        multiprocess_mode="livemostrecent",
    ).set(expiry)
    return expiry


class CacheMetrics:
    """Hits, misses and invalidations of each read-through cache (``cache`` label: its name)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.hits = Counter(
            "nsl_cache_hits_total", "Lookups answered from the cache.", ["cache"], registry=registry
        )
        self.misses = Counter(
            "nsl_cache_misses_total",
            "Lookups not in the cache (absent, expired, or not trusted while invalidations may be lost).",
            ["cache"],
            registry=registry,
        )
        self.invalidations = Counter(
            "nsl_cache_invalidations_total",
            "Invalidations applied to the cache (this replica's own and those received from others).",
            ["cache"],
            registry=registry,
        )
