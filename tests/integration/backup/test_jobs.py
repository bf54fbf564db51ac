"""The worker jobs: scheduled backup when due, and the automated restore test, with their metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.metrics import BackupMetrics
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.jobs import (
    backup_jobs,
    run_restore_test,
    run_scheduled_backup,
)
from neo_service_layer.services.backup.rules.backup import BackupCorrupted, RetentionPolicy


class SteppingClock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current


async def test_jobs(make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path) -> None:
    settings = make_settings()
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    clock = SteppingClock()
    backups = BackupSettings(key=backup_key, dir=tmp_path / "b", schedule_enabled=True)
    service = build_backup_service(settings, backups, clock=clock)
    registry = CollectorRegistry()
    metrics = BackupMetrics(registry)
    policy = RetentionPolicy(30, 90)
    day = timedelta(hours=24)

    first = await run_scheduled_backup(service, metrics, clock, day, policy)
    assert first is not None
    assert await run_scheduled_backup(service, metrics, clock, day, policy) is None  # not due yet
    assert registry.get_sample_value("nsl_backup_size_bytes") == first.size
    assert registry.get_sample_value("nsl_backup_last_success_timestamp_seconds") == clock.now().timestamp()

    report = await run_restore_test(service, metrics, clock, timedelta(days=7))
    assert report is not None
    assert report.ok
    assert registry.get_sample_value("nsl_backup_last_verify_success_timestamp_seconds") is not None
    assert await run_restore_test(service, metrics, clock, timedelta(days=7)) is None  # passed recently
    assert registry.get_sample_value("nsl_backup_failures_total", {"operation": "verify"}) in (None, 0.0)

    (tmp_path / "b" / f"{first.backup_id}.verified.json").unlink()
    archive = tmp_path / "b" / f"{first.backup_id}.nslbak"
    archive.write_bytes(archive.read_bytes()[:-5])
    with pytest.raises(BackupCorrupted):
        await run_restore_test(service, metrics, clock, timedelta(days=7))
    assert registry.get_sample_value("nsl_backup_failures_total", {"operation": "verify"}) == 1.0
    count = registry.get_sample_value("nsl_backup_duration_seconds_count", {"operation": "create"})
    assert count == 1.0

    assert [job.name for job in backup_jobs(clock, service, backups, metrics)] == [
        "backup",
        "backup-restore-test",
    ]
    assert backup_jobs(clock, service, BackupSettings(key=backup_key), metrics) == []
