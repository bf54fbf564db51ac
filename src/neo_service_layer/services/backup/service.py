"""The backup service: encrypted backups of the database to a target, point-in-time recovery,
scheduled backups with a weekly restore test, and the disaster-recovery runbook (``nsl backup``,
``nsl dr``). It keeps no state of its own in the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.service_descriptor import Command, ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.backup import routes
from neo_service_layer.services.backup.adapters.checks import restore_checks
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.metrics import BackupMetrics
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.cli.backup import backup_app, dr_app
from neo_service_layer.services.backup.jobs import backup_jobs

NAME = "backup"


def scheduled_backup_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Scheduled backup and weekly restore test, when ``NSL_BACKUP_SCHEDULE_ENABLED`` is true."""
    backup_settings = BackupSettings()
    if not backup_settings.schedule_enabled:
        return []
    checks = restore_checks(container.settings, container.clock)
    service = build_backup_service(container.settings, backup_settings, clock=container.clock, checks=checks)
    return backup_jobs(container.clock, service, backup_settings, BackupMetrics(container.registry))


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Encrypted backups, point-in-time recovery, restore tests and the DR runbook",
    routers=(routes.router,),
    jobs=scheduled_backup_jobs,
    commands=lambda _open: [Command("backup", backup_app), Command("dr", dr_app)],
)
