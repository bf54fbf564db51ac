"""``GET /api/v1/backups/status``: the newest backup and the newest verified one, with their age, for
operators (``platform:admin``). Read from the backup target itself (no database state)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.http.security import require_scope
from neo_service_layer.kernel.identity.rules.access import Principal, Scopes
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.rules.backup import BackupError
from neo_service_layer.services.backup.use_cases.backup import BackupSummary

router = APIRouter(prefix="/backups", tags=["backups"])

Operator = Annotated[Principal, Depends(require_scope(Scopes.PLATFORM_ADMIN))]


class BackupOut(BaseModel):
    backupId: str  # noqa: N815
    createdAt: datetime  # noqa: N815
    size: int
    #: when a restore test last passed for it; ``null`` when never
    verifiedAt: datetime | None = None  # noqa: N815
    restoreSeconds: float | None = None  # noqa: N815
    #: seconds since it was created
    ageSeconds: float  # noqa: N815


class BackupStatus(BaseModel):
    #: ``local`` or ``s3``
    target: str
    #: ``false`` when the target cannot be read or no backup key is set (``detail`` says which)
    readable: bool
    detail: str | None = None
    count: int = 0
    newest: BackupOut | None = None
    newestVerified: BackupOut | None = None  # noqa: N815
    #: whether the worker takes scheduled backups (``NSL_BACKUP_SCHEDULE_ENABLED``)
    scheduled: bool


@router.get("/status", summary="Newest backup and newest verified backup, with their age (operators)")
async def backup_status(request: Request, _operator: Operator) -> BackupStatus:
    container: Container = request.app.state.container
    settings = BackupSettings()
    now = container.clock.now()
    status = BackupStatus(target=settings.target, readable=False, scheduled=settings.schedule_enabled)
    try:
        service = build_backup_service(container.settings, settings, clock=container.clock)
        backups = await service.list_backups()
    except (BackupError, OSError) as exc:
        status.detail = str(exc)[:300]
        return status
    status.readable = True
    status.count = len(backups)
    verified = [b for b in backups if b.verified_at is not None]

    def out(summary: BackupSummary) -> BackupOut:
        return BackupOut(
            backupId=summary.backup_id,
            createdAt=summary.created_at,
            size=summary.size,
            verifiedAt=summary.verified_at,
            restoreSeconds=summary.restore_seconds,
            ageSeconds=(now - summary.created_at).total_seconds(),
        )

    status.newest = out(backups[-1]) if backups else None
    status.newestVerified = out(verified[-1]) if verified else None
    return status
