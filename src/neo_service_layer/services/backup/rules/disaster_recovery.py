"""Disaster-recovery assessment: from what is reachable and how old the backups are, what to do.

Standard library only; ``services.disaster_recovery`` gathers the facts, ``nsl dr plan`` shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether one component answered (``None`` for ``ok`` when it is not configured)."""

    name: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Objectives:
    """Targets the operator committed to: recovery point and recovery time objectives."""

    rpo: timedelta
    rto: timedelta
    verify_every: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class DrFacts:
    """What ``dr plan`` found. Ages are ``None`` when there is no such backup."""

    probes: Sequence[Probe]
    database_empty: bool | None
    newest_backup_id: str | None
    newest_backup_at: datetime | None
    newest_verified_id: str | None
    newest_verified_at: datetime | None
    last_restore_seconds: float | None
    backups_on_this_machine: bool = False


@dataclass(frozen=True, slots=True)
class Assessment:
    facts: DrFacts
    now: datetime
    objectives: Objectives
    actions: Sequence[str] = field(default_factory=tuple)
    restore_recommended: bool = False
    rpo_met: bool = False
    rto_met: bool | None = None

    @property
    def needs_action(self) -> bool:
        return bool(self.actions)

    def backup_age(self) -> timedelta | None:
        at = self.facts.newest_backup_at
        return None if at is None else max(self.now - at, timedelta(0))

    def to_json(self) -> dict[str, Any]:
        age = self.backup_age()
        facts = self.facts
        return {
            "now": self.now.isoformat(),
            "components": {p.name: {"ok": p.ok, "detail": p.detail} for p in facts.probes},
            "database_empty": facts.database_empty,
            "newest_backup": facts.newest_backup_id,
            "newest_backup_age_seconds": None if age is None else round(age.total_seconds()),
            "newest_verified_backup": facts.newest_verified_id,
            "rpo_target_seconds": round(self.objectives.rpo.total_seconds()),
            "rpo_met": self.rpo_met,
            "rto_target_seconds": round(self.objectives.rto.total_seconds()),
            "rto_estimate_seconds": facts.last_restore_seconds,
            "rto_met": self.rto_met,
            "restore_recommended": self.restore_recommended,
            "actions": list(self.actions),
        }


def assess(facts: DrFacts, now: datetime, objectives: Objectives) -> Assessment:
    """Apply the rules: which actions are needed, whether RPO and RTO objectives hold."""
    probes = {p.name: p for p in facts.probes}
    actions: list[str] = []
    database = probes.get("database")
    target = probes.get("backups")
    database_down = database is not None and database.ok is False
    has_backup = facts.newest_backup_id is not None
    restore = has_backup and (database_down or facts.database_empty is True)
    if database_down:
        actions.append(
            "database unreachable: repair it, or point NSL_DATABASE_URL at a new server and restore "
            "the newest verified backup (nsl backup restore <id>)"
        )
    elif facts.database_empty is True and has_backup:
        actions.append("database is empty: restore the newest verified backup (nsl backup restore <id>)")
    if target is not None and target.ok is False:
        actions.append("backup target unreachable: check its credentials and network")
    if not has_backup:
        actions.append("no backup exists: take one now (nsl backup create)")
    age = None if facts.newest_backup_at is None else max(now - facts.newest_backup_at, timedelta(0))
    rpo_met = age is not None and age <= objectives.rpo
    if age is not None and not rpo_met and not database_down:
        actions.append(f"newest backup is older than the RPO of {objectives.rpo}: nsl backup create")
    verified_age = None if facts.newest_verified_at is None else now - facts.newest_verified_at
    if has_backup and (verified_age is None or verified_age > objectives.verify_every):
        actions.append("no recently verified backup: nsl backup verify latest")
    rto_met = None
    if facts.last_restore_seconds is not None:
        rto_met = facts.last_restore_seconds <= objectives.rto.total_seconds()
        if not rto_met:
            actions.append(f"the last measured restore took longer than the RTO of {objectives.rto}")
    for name in ("enclave", "chain_rpc"):
        probe = probes.get(name)
        if probe is not None and probe.ok is False:
            actions.append(f"{name} unreachable: {probe.detail or 'see docs/dr.md'}")
    if facts.backups_on_this_machine:
        actions.append("backups are stored on this machine only: use an off-site target (S3)")
    return Assessment(facts, now, objectives, tuple(actions), restore, rpo_met, rto_met)
