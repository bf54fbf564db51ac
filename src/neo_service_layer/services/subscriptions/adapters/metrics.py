"""Prometheus metrics of event deliveries (``ports.DeliveryObserver``): never by tenant or subscription
(the API shows each subscription's counts)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: seconds from an event's occurrence to its delivery
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400)


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._deliveries = Counter(
            "nsl_subscription_deliveries_total",
            "Webhook delivery attempts of tenant events by outcome: delivered, retried (failed, tried again"
            " later), dead_lettered (no retry left), disabled (the endpoint answered 410 Gone).",
            ["outcome"],
            registry=registry,
        )
        self._deferred = Counter(
            "nsl_subscription_deliveries_deferred_total",
            "Due deliveries left pending for a later round (not claimed, no attempt counted) because"
            " their endpoint had its limit of attempts in flight (busy) or its circuit open (open).",
            ["reason"],
            registry=registry,
        )
        self._latency = Histogram(
            "nsl_subscription_delivery_latency_seconds",
            "Seconds from an event's occurrence to its delivery (2xx) to a webhook.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def delivered(self, latency_seconds: float) -> None:
        self._deliveries.labels("delivered").inc()
        self._latency.observe(max(0.0, latency_seconds))

    def retried(self) -> None:
        self._deliveries.labels("retried").inc()

    def dead_lettered(self) -> None:
        self._deliveries.labels("dead_lettered").inc()

    def disabled(self) -> None:
        self._deliveries.labels("disabled").inc()

    def deferred(self, reason: str) -> None:
        self._deferred.labels(reason).inc()
