"""The restore checks of other areas: audit hash chains and sealed key records (SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.identity.adapters.audit_store import SqlAuditLog
from neo_service_layer.kernel.identity.adapters.tables import audit_events
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome
from neo_service_layer.services.backup.adapters.checks import AUDIT_CHAIN, SEALED_KEYS, restore_checks
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.rules.backup import BackupCorrupted


async def _audited(settings: Settings, tamper: bool) -> None:
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
        log = SqlAuditLog(engine, SystemClock())
        for i in range(5):
            await log.record(AuditRecord("ten_drill", "usr_a", "key.create", Outcome.SUCCESS, f"key:{i}"))
        if tamper:
            async with engine.begin() as conn:
                await conn.execute(update(audit_events).where(audit_events.c.seq == 3).values(actor="usr_b"))
    finally:
        await engine.dispose()


async def test_checks_pass_and_say_when_there_is_no_enclave(
    make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path
) -> None:
    settings = make_settings()
    await _audited(settings, tamper=False)
    service = build_backup_service(
        settings, BackupSettings(key=backup_key, dir=tmp_path / "b"), checks=restore_checks(settings)
    )
    report = await service.verify((await service.create()).backup_id)
    outcomes = {c.name: c for c in report.checks}
    assert outcomes[AUDIT_CHAIN].ok
    assert outcomes[AUDIT_CHAIN].detail.endswith("chains, 5 entries verify")  # + the platform tenant
    assert outcomes[SEALED_KEYS].ok
    assert outcomes[SEALED_KEYS].detail == "skipped (no enclave)"


async def test_a_broken_audit_chain_blocks_the_restore(
    make_settings: Callable[..., Settings], backup_key: str, tmp_path: Path
) -> None:
    settings = make_settings()
    await _audited(settings, tamper=True)
    service = build_backup_service(
        settings, BackupSettings(key=backup_key, dir=tmp_path / "b"), checks=restore_checks(settings)
    )
    created = await service.create()
    report = await service.verify(created.backup_id)
    audit = next(c for c in report.checks if c.name == AUDIT_CHAIN)
    assert not audit.ok
    assert "ten_drill at seq 3" in audit.detail
    with pytest.raises(BackupCorrupted, match="audit_chain"):
        await service.restore(created.backup_id, force=True)
