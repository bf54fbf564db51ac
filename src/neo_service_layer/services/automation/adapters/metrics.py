"""Prometheus metrics of the automation service (``ports.AutomationObserver``, ``ports.JobObserver``)."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENESS_BUCKETS = (0, 1, 2, 3, 4, 5, 10, 20, 50, 100)


class AutomationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._occurrences = Counter(
            "nsl_automation_occurrences_total",
            "Upkeep occurrences: due (recorded), run (sent), performed (on chain), skipped (with the reason:"
            " balance_too_low, condition_false, gas_limit, dry_run_faulted, missed, paused).",
            ["outcome", "reason"],
            registry=registry,
        )
        self._lateness = Histogram(
            "nsl_automation_lateness_blocks",
            "Blocks from the block an occurrence became due in to the block that performed it.",
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self._runs_left = Gauge(
            "nsl_automation_upkeep_runs_left",
            "Runs an active upkeep's balance still pays for (gasLimit + baseFee each).",
            ["upkeep"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )

    def occurrence(self, outcome: str, reason: str = "") -> None:
        self._occurrences.labels(outcome, reason).inc()

    def lateness(self, blocks: int) -> None:
        self._lateness.observe(max(0, blocks))

    def runs_left(self, upkeep_id: int, runs: int | None) -> None:
        if runs is None:
            with contextlib.suppress(KeyError):
                self._runs_left.remove(str(upkeep_id))
            return
        self._runs_left.labels(str(upkeep_id)).set(runs)


#: seconds from a tenant job's occurrence being due to its delivery
JOB_LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)


class JobMetrics:
    """Tenant-job runs (``ports.JobObserver``): by action kind and outcome, never by job or tenant
    (the status API counts per job)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._runs = Counter(
            "nsl_automation_job_runs_total",
            "Tenant-job run attempts and skips by action kind: delivered, retrying, failed, skipped (with the"
            " reason: missed, condition_false, check_faulted).",
            ["kind", "outcome", "reason"],
            registry=registry,
        )
        self._latency = Histogram(
            "nsl_automation_job_delivery_seconds",
            "Seconds from a tenant job's occurrence being due (its time, or when the block scanner recorded"
            " it) to its delivery.",
            ["kind"],
            buckets=JOB_LATENCY_BUCKETS,
            registry=registry,
        )

    def run(self, kind: str, outcome: str, reason: str = "", count: int = 1) -> None:
        self._runs.labels(kind, outcome, reason).inc(count)

    def latency(self, kind: str, seconds: float) -> None:
        self._latency.labels(kind).observe(max(0.0, seconds))
