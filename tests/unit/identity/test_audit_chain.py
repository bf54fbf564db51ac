"""The audit hash chain detects edits, deletions and reordering."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from neo_service_layer.kernel.identity.rules.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Outcome,
    canonical_time,
    chain_entry,
    verify_chain,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    for i in range(n):
        record = AuditRecord("ten_a", f"user:u{i}", "auth.login", Outcome.SUCCESS, details={"n": str(i)})
        entry = chain_entry(record, seq=i + 1, occurred_at=T0 + timedelta(seconds=i), prev_hash=prev)
        entries.append(entry)
        prev = entry.hash
    return entries


def test_intact_chain_verifies() -> None:
    assert verify_chain("ten_a", _chain(5)) is None
    assert verify_chain("ten_a", []) is None


def test_an_edited_entry_is_the_first_broken_link() -> None:
    chain = _chain(5)
    chain[2] = replace(chain[2], outcome="failure")
    broken = verify_chain("ten_a", chain)
    assert broken is not None
    assert broken.seq == 3
    assert "altered" in broken.reason


def test_deleted_and_reordered_entries_are_found() -> None:
    chain = _chain(5)
    deleted = chain[:2] + chain[3:]
    broken = verify_chain("ten_a", deleted)
    assert broken is not None
    assert broken.seq == 3
    swapped = [chain[0], chain[2], chain[1], *chain[3:]]
    broken = verify_chain("ten_a", swapped)
    assert broken is not None
    assert broken.seq == 2


def test_an_entry_moved_to_another_tenant_breaks() -> None:
    assert verify_chain("ten_b", _chain(2)) is not None


def test_time_is_canonical_with_or_without_a_zone() -> None:
    assert canonical_time(T0) == canonical_time(T0.replace(tzinfo=None)) == "2026-01-01T00:00:00.000000Z"
