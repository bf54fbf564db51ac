"""Pure rules of request handling: status transitions, cursor, lease, outbox decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from neo_service_layer.kernel.chain.rules import (
    ChainEventKind,
    InvalidTransition,
    Lease,
    OutboxAction,
    RequestStatus,
    advance_cursor,
    next_scan,
    next_status,
    outbox_action,
    sources_of,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
S, E = RequestStatus, ChainEventKind


@pytest.mark.parametrize(
    ("current", "event", "after"),
    [
        (S.SEEN, E.TX_WRITTEN, S.FULFILLING),
        (S.SEEN, E.DRY_RUN_FAULTED, S.FAILED),
        (S.FULFILLING, E.TX_EXPIRED, S.SEEN),
        (S.FULFILLING, E.FULFILLED, S.FULFILLED),
        (S.SEEN, E.FULFILLED, S.FULFILLED),  # fulfilled by someone else
        (S.FAILED, E.FULFILLED, S.FULFILLED),
        (S.FULFILLED, E.DELIVERED, S.DELIVERED),
        (S.FULFILLED, E.CALLBACK_FAILED, S.CALLBACK_FAILED),
        (S.CALLBACK_FAILED, E.DELIVERED, S.DELIVERED),  # deliver retried after a fix
    ],
)
def test_allowed_transitions(current: RequestStatus, event: ChainEventKind, after: RequestStatus) -> None:
    assert next_status(current, event) is after


@pytest.mark.parametrize(
    ("current", "event"),
    [
        (S.FULFILLING, E.TX_WRITTEN),  # a second transaction while one is in flight
        (S.FULFILLED, E.TX_WRITTEN),
        (S.DELIVERED, E.FULFILLED),  # a replayed event never moves a request backwards
        (S.DELIVERED, E.TX_EXPIRED),
        (S.SEEN, E.DELIVERED),
        (S.FAILED, E.TX_WRITTEN),
    ],
)
def test_refused_transitions(current: RequestStatus, event: ChainEventKind) -> None:
    with pytest.raises(InvalidTransition):
        next_status(current, event)


def test_sources_drive_the_conditional_updates() -> None:
    assert sources_of(E.FULFILLED, S.FULFILLED) == {S.SEEN, S.FULFILLING, S.FAILED}
    assert sources_of(E.DELIVERED, S.DELIVERED) == {S.FULFILLED, S.CALLBACK_FAILED}


def test_scan_starts_at_start_block_without_cursor_and_after_cursor_with_one() -> None:
    scan = next_scan(None, 100, start=40, max_blocks=1000)
    assert (scan.first, scan.last, len(scan)) == (40, 100, 61)
    resumed = next_scan(70, 100, start=40, max_blocks=1000)
    assert (resumed.first, resumed.last) == (71, 100)


def test_scan_catches_up_in_steps_and_is_empty_at_the_head() -> None:
    step = next_scan(10, 1000, start=0, max_blocks=100)
    assert (step.first, step.last) == (11, 110)
    assert next_scan(1000, 1000, start=0, max_blocks=100).empty
    assert len(next_scan(1000, 1000, start=0, max_blocks=100)) == 0
    with pytest.raises(ValueError, match="max_blocks"):
        next_scan(1, 2, start=0, max_blocks=0)


def test_cursor_never_moves_backwards() -> None:
    assert advance_cursor(None, 5) == 5
    assert advance_cursor(9, 5) == 9
    assert advance_cursor(9, 12) == 12


def test_lease() -> None:
    later = NOW + timedelta(seconds=30)
    held = Lease("w1", later)
    assert held.held_by("w1", NOW)
    assert not held.free_for("w2", NOW)
    assert held.free_for("w1", NOW)
    assert held.free_for("w2", later)  # expired exactly at its end
    assert not held.held_by("w1", later)
    assert Lease(None, None).free_for("w2", NOW)


def _action(**overrides: object) -> OutboxAction:
    values: dict[str, object] = {
        "included_block": None,
        "halted": None,
        "height": 100,
        "valid_until_block": 120,
        "last_sent_at": NOW,
        "now": NOW + timedelta(seconds=1),
        "resend_after": timedelta(seconds=2),
    }
    values.update(overrides)
    return outbox_action(**values)  # type: ignore[arg-type]


def test_outbox_decisions() -> None:
    assert _action() is OutboxAction.WAIT
    assert _action(last_sent_at=None) is OutboxAction.RESEND  # crashed between commit and send
    assert _action(now=NOW + timedelta(seconds=2)) is OutboxAction.RESEND
    assert _action(height=119) is OutboxAction.WAIT
    assert _action(height=120) is OutboxAction.EXPIRE  # block 121 > validUntilBlock: never includable
    assert _action(included_block=105, halted=True, height=130) is OutboxAction.DONE
    assert _action(included_block=105, halted=False) is OutboxAction.RETRY
