"""Prometheus metrics of backups, restore tests and their failures (``nsl_backup_*``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)


class BackupMetrics:
    """Updated by the backup and restore-test jobs (and the CLI when it runs in a worker)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_success = Gauge(
            "nsl_backup_last_success_timestamp_seconds",
            "Unix time of the last backup that completed and was stored.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.last_verify_success = Gauge(
            "nsl_backup_last_verify_success_timestamp_seconds",
            "Unix time of the last backup that passed verification (restore test).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.failures = Counter(
            "nsl_backup_failures_total",
            "Backup operations that failed, by operation (create, verify, prune).",
            ["operation"],
            registry=registry,
        )
        self.duration = Histogram(
            "nsl_backup_duration_seconds",
            "Duration of backup operations, by operation (create, verify, prune).",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.size = Gauge(
            "nsl_backup_size_bytes",
            "Size of the last stored backup archive (compressed and encrypted).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
