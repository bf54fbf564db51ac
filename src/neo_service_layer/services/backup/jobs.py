"""Worker jobs: scheduled backups (with pruning) and the automated restore test.

Both jobs wake up every ``CHECK_INTERVAL`` and act only when due (judged from the backups in the
target, not from process memory), so a restarted worker neither skips nor repeats a backup. Run
them in one worker replica only (see ``docs/dr.md``). The service descriptor (``service.py``) hands
them to the worker.
"""

from __future__ import annotations

import time
from datetime import timedelta

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.backup.adapters.metrics import BackupMetrics
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.rules.backup import RetentionPolicy
from neo_service_layer.services.backup.use_cases.backup import BackupService, CreateResult, VerifyReport

log = get_logger("nsl.backup")

CHECK_INTERVAL = timedelta(hours=1)


async def run_scheduled_backup(
    service: BackupService,
    metrics: BackupMetrics,
    clock: Clock,
    every: timedelta,
    policy: RetentionPolicy,
) -> CreateResult | None:
    """Take a backup when the newest one is at least ``every`` old, then prune; else do nothing."""
    newest = await service.newest()
    if newest is not None and clock.now() - newest.created_at < every:
        return None
    started = time.perf_counter()
    try:
        result = await service.create()
    except Exception:
        metrics.failures.labels("create").inc()
        raise
    finally:
        metrics.duration.labels("create").observe(time.perf_counter() - started)
    metrics.last_success.set(clock.now().timestamp())
    metrics.size.set(result.size)
    log.info("backup stored", backup_id=result.backup_id, size=result.size, seconds=round(result.seconds, 3))
    started = time.perf_counter()
    try:
        decision = await service.prune(policy)
    except Exception:
        metrics.failures.labels("prune").inc()
        raise
    finally:
        metrics.duration.labels("prune").observe(time.perf_counter() - started)
    if decision.delete:
        log.info("old backups pruned", deleted=sorted(decision.delete))
    return result


async def run_restore_test(
    service: BackupService, metrics: BackupMetrics, clock: Clock, every: timedelta
) -> VerifyReport | None:
    """Verify the newest backup (scratch restore + checks) unless it passed within ``every``."""
    newest = await service.newest()
    if newest is None:
        return None
    if newest.verified_at is not None and clock.now() - newest.verified_at < every:
        return None
    started = time.perf_counter()
    try:
        report = await service.verify(newest.backup_id)
    except Exception:
        metrics.failures.labels("verify").inc()
        raise
    finally:
        metrics.duration.labels("verify").observe(time.perf_counter() - started)
    if not report.ok:
        metrics.failures.labels("verify").inc()
        failed = [c.name for c in report.checks if not c.ok]
        log.error("restore test failed", backup_id=newest.backup_id, failed=failed)
        return report
    metrics.last_verify_success.set(report.verified_at.timestamp())
    log.info("restore test passed", backup_id=newest.backup_id, seconds=round(report.seconds, 3))
    return report


def backup_jobs(
    clock: Clock, service: BackupService, settings: BackupSettings, metrics: BackupMetrics
) -> list[PeriodicJob]:
    """The two jobs, or none when ``NSL_BACKUP_SCHEDULE_ENABLED`` is false."""
    if not settings.schedule_enabled:
        return []
    every = timedelta(hours=settings.interval_hours)
    policy = RetentionPolicy(settings.daily_keep_days, settings.weekly_keep_days)
    verify_every = timedelta(days=settings.verify_interval_days)

    async def backup() -> None:
        await run_scheduled_backup(service, metrics, clock, every, policy)

    async def restore_test() -> None:
        await run_restore_test(service, metrics, clock, verify_every)

    check = min(CHECK_INTERVAL, every)
    return [PeriodicJob("backup", check, backup), PeriodicJob("backup-restore-test", check, restore_test)]
