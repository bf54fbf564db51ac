"""Gathering the facts of a disaster-recovery assessment (``nsl dr plan``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.backup.rules.backup import BackupError
from neo_service_layer.services.backup.rules.disaster_recovery import (
    Assessment,
    DrFacts,
    Objectives,
    Probe,
    assess,
)
from neo_service_layer.services.backup.use_cases.backup import BackupService, BackupSummary

ProbeCall = Callable[[], Awaitable[Probe]]


async def gather(
    backups: BackupService,
    probes: Sequence[ProbeCall],
    clock: Clock,
    objectives: Objectives,
    *,
    backups_on_this_machine: bool = False,
) -> Assessment:
    """Run every probe (concurrently), read the backup catalogue, and assess."""
    results = list(await asyncio.gather(*(probe() for probe in probes)))
    summaries: list[BackupSummary] = []
    try:
        summaries = await backups.list_backups()
        results.append(Probe("backups", True, f"{len(summaries)} backups in {backups.target.description}"))
    except (BackupError, OSError) as exc:
        results.append(Probe("backups", False, f"{backups.target.description}: {exc}"))
    empty: bool | None = None
    if all(p.ok is not False for p in results if p.name == "database"):
        try:
            empty = await backups.database.is_empty()
        except Exception as exc:  # any driver error: the database is not usable as it is
            results = [p for p in results if p.name != "database"]
            results.append(Probe("database", False, f"cannot read it ({type(exc).__name__})"))
    newest = summaries[-1] if summaries else None
    verified = [s for s in summaries if s.verified_at is not None]
    newest_verified = verified[-1] if verified else None
    facts = DrFacts(
        probes=tuple(results),
        database_empty=empty,
        newest_backup_id=newest.backup_id if newest else None,
        newest_backup_at=newest.created_at if newest else None,
        newest_verified_id=newest_verified.backup_id if newest_verified else None,
        newest_verified_at=newest_verified.verified_at if newest_verified else None,
        last_restore_seconds=newest_verified.restore_seconds if newest_verified else None,
        backups_on_this_machine=backups_on_this_machine,
    )
    return assess(facts, clock.now(), objectives)
