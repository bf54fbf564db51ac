"""The disaster-recovery assessment rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from neo_service_layer.services.backup.rules.disaster_recovery import DrFacts, Objectives, Probe, assess

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
GOALS = Objectives(rpo=timedelta(hours=25), rto=timedelta(minutes=60))


def _facts(**changes: object) -> DrFacts:
    values: dict[str, object] = {
        "probes": (Probe("database", True), Probe("enclave", True), Probe("chain_rpc", None)),
        "database_empty": False,
        "newest_backup_id": "nsl-20260630T000000Z-000000",
        "newest_backup_at": NOW - timedelta(hours=12),
        "newest_verified_id": "nsl-20260630T000000Z-000000",
        "newest_verified_at": NOW - timedelta(hours=11),
        "last_restore_seconds": 30.0,
    }
    values.update(changes)
    return DrFacts(**values)  # type: ignore[arg-type]


def test_healthy() -> None:
    result = assess(_facts(), NOW, GOALS)
    assert not result.needs_action
    assert result.rpo_met
    assert result.rto_met
    assert not result.restore_recommended
    assert result.to_json()["newest_backup_age_seconds"] == 12 * 3600


def test_database_down_recommends_restore() -> None:
    result = assess(_facts(probes=(Probe("database", False, "refused"),), database_empty=None), NOW, GOALS)
    assert result.restore_recommended
    assert result.needs_action
    assert "database unreachable" in result.actions[0]


def test_empty_database_recommends_restore() -> None:
    assert assess(_facts(database_empty=True), NOW, GOALS).restore_recommended


def test_stale_backup_misses_rpo() -> None:
    result = assess(_facts(newest_backup_at=NOW - timedelta(hours=30)), NOW, GOALS)
    assert not result.rpo_met
    assert any("RPO" in a for a in result.actions)


def test_no_backup_and_no_verification() -> None:
    result = assess(
        _facts(
            newest_backup_id=None, newest_backup_at=None, newest_verified_id=None, newest_verified_at=None
        ),
        NOW,
        GOALS,
    )
    assert any("no backup" in a for a in result.actions)
    assert not result.restore_recommended
    unverified = assess(_facts(newest_verified_at=NOW - timedelta(days=8)), NOW, GOALS)
    assert any("verify" in a for a in unverified.actions)


def test_slow_restore_misses_rto_and_local_backups_warn() -> None:
    result = assess(_facts(last_restore_seconds=7200.0, backups_on_this_machine=True), NOW, GOALS)
    assert result.rto_met is False
    assert any("RTO" in a for a in result.actions)
    assert any("off-site" in a for a in result.actions)
