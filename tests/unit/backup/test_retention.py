"""The retention rule, as a table of dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.backup.rules.backup import (
    BackupRecord,
    InvalidBackupId,
    Manifest,
    ManifestPart,
    RetentionPolicy,
    apply_retention,
    backup_time,
    creation_order,
    new_backup_id,
)

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)  # a Tuesday


def _record(days_ago: float, *, verified: bool = False, name: str | None = None) -> BackupRecord:
    at = NOW - timedelta(days=days_ago)
    return BackupRecord(name or new_backup_id(at, "000000"), at, verified_at=at if verified else None)


@pytest.mark.parametrize(
    ("days_ago", "verified", "others", "kept"),
    [
        (0, False, [], True),  # today
        (29.9, False, [], True),  # inside the daily window
        (30.1, False, [29.9], False),  # outside daily; a newer backup of the same week is kept
        (45, False, [44.5], False),  # an older backup of a week whose newest is kept
        (91, False, [], False),  # outside the weekly window
        (200, True, [], True),  # very old, but the newest verified backup
        (200, True, [100, 1], True),  # still the newest *verified* (newer ones are unverified)
    ],
)
def test_table(days_ago: float, verified: bool, others: list[float], kept: bool) -> None:
    subject = _record(days_ago, verified=verified, name="nsl-subject")
    decision = apply_retention([subject, *(_record(d) for d in others)], NOW, RetentionPolicy(30, 90))
    assert ("nsl-subject" in decision.keep) is kept


def test_one_backup_per_week_between_30_and_90_days() -> None:
    daily = [_record(d) for d in range(0, 100)]
    decision = apply_retention(daily, NOW, RetentionPolicy(30, 90))
    kept = [b for b in daily if b.backup_id in decision.keep]
    young = [b for b in kept if NOW - b.created_at < timedelta(days=30)]
    weekly = [b for b in kept if NOW - b.created_at >= timedelta(days=30)]
    assert len(young) == 30
    weeks = [b.created_at.isocalendar()[:2] for b in weekly]
    assert len(weeks) == len(set(weeks))  # at most one per ISO week
    assert all(b.created_at.weekday() == 6 for b in weekly)  # the newest of each week: Sunday
    assert all(NOW - b.created_at < timedelta(days=90) for b in weekly)
    assert 8 <= len(weekly) <= 9
    assert len(decision.keep) + len(decision.delete) == 100


def test_newest_verified_survives_everything() -> None:
    backups = [_record(120, verified=True, name="nsl-old-verified"), _record(150, verified=True)]
    decision = apply_retention(backups, NOW, RetentionPolicy(1, 1))
    assert list(decision.keep) == ["nsl-old-verified"]


def test_future_dates_count_as_new() -> None:
    decision = apply_retention([_record(-2)], NOW, RetentionPolicy(1, 7))
    assert len(decision.keep) == 1


def test_policy_bounds() -> None:
    with pytest.raises(InvalidInput, match="retention"):
        RetentionPolicy(30, 10)


def test_backup_ids() -> None:
    backup_id = new_backup_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert backup_time(backup_id) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(InvalidBackupId):
        backup_time("../etc/passwd")


def test_manifest_round_trip() -> None:
    manifest = Manifest(
        backup_id=new_backup_id(NOW, "abcdef"),
        created_at=NOW,
        source_version="0.1.0",
        schema_revision="0002",
        dialect="sqlite",
        row_counts={"b": 2, "a": 1},
        parts=(ManifestPart("database/nsl.sqlite3", 10, "00" * 32),),
        notes=("n",),
    )
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_two_backups_of_one_second_sort_in_the_order_they_were_made() -> None:
    """The CI run of 2026-12-04 made two backups in one second and `dr plan` named the older one."""
    first = datetime(2026, 1, 2, 3, 4, 5, 998_000, tzinfo=UTC)
    for earlier_ms, later_ms in ((0, 1), (9, 10), (15, 16), (255, 256), (998, 999)):
        a = new_backup_id(first.replace(microsecond=earlier_ms * 1000))
        b = new_backup_id(first.replace(microsecond=later_ms * 1000))
        older, newer = _record(0, name=a), _record(0, name=b)
        assert a[:20] == b[:20]
        assert backup_time(a) == backup_time(b)
        assert sorted([newer, older], key=creation_order) == [older, newer]
    decision = apply_retention(
        [_record(0, name=b, verified=True), _record(0, name=a, verified=True)], NOW, RetentionPolicy()
    )
    assert decision.keep[b] == "newest verified backup"
    assert decision.keep[a] != "newest verified backup"
