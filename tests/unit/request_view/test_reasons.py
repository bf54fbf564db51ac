"""The request view's reasons: each derived only from the facts given, and absent once a request is done;
its cursor; the scope map names scopes that exist; a low retry limit dead-letters sooner."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.request_view.rules import (
    SERVICE_SCOPES,
    OutboxFacts,
    Position,
    RequestFacts,
    Surroundings,
    decode_cursor,
    encode_cursor,
    reason_of,
)
from neo_service_layer.services.subscriptions.rules.retry import next_retry
from tests.scopes import TENANT_SCOPES

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SEEN = RequestFacts(
    service="randomness",
    contract="0x" + "11" * 20,
    request_id=7,
    consumer="0x" + "ab" * 20,
    status="seen",
    attempts=0,
    request_block=10,
    request_tx="0x" + "aa" * 32,
    seen_at=NOW - timedelta(minutes=1),
    updated_at=NOW,
)
TX = "0x" + "bb" * 32
SENT = OutboxFacts(tx_hash=TX, status="pending", send_count=2, valid_until_block=120, last_sent_at=NOW)
AROUND = Surroundings(now=NOW, height=100, watcher_block=99, live_workers=1)


def _code(
    request: RequestFacts, outbox: OutboxFacts | None = None, around: Surroundings = AROUND
) -> str | None:
    reason = reason_of(request, outbox, around)
    return None if reason is None else reason.code


def test_done_requests_have_no_reason() -> None:
    assert reason_of(replace(SEEN, status="delivered"), None, AROUND) is None
    assert reason_of(replace(SEEN, status="fulfilled"), None, AROUND) is None


def test_a_fulfilling_request_is_explained_by_its_outbox_transaction() -> None:
    fulfilling = replace(SEEN, status="fulfilling", tx_hash=TX, attempts=1)
    waiting = reason_of(fulfilling, SENT, AROUND)
    assert waiting is not None
    assert waiting.code == "tx_not_included"
    assert "valid until block 120" in waiting.text
    assert "chain at 100" in waiting.text
    assert not waiting.stuck
    assert _code(fulfilling, SENT, replace(AROUND, height=120)) == "tx_expired"  # height >= validUntilBlock
    assert _code(fulfilling, replace(SENT, last_error="insufficient GAS")) == "tx_send_error"
    assert _code(fulfilling, replace(SENT, send_count=0, last_sent_at=None)) == "tx_unsent"
    assert _code(fulfilling, replace(SENT, included_block=105)) == "awaiting_watcher"  # watcher at 99
    assert _code(fulfilling, replace(SENT, included_block=98)) == "tx_included"
    assert _code(fulfilling, None) == "tx_missing"
    unknown_height = reason_of(fulfilling, SENT, replace(AROUND, height=None))
    assert unknown_height is not None
    assert unknown_height.code == "tx_not_included"  # never claimed expired without the height
    assert "height unknown" in unknown_height.text


def test_a_seen_request_is_explained_by_its_lease_workers_and_faults() -> None:
    leased = replace(SEEN, lease_owner="w1", lease_until=NOW + timedelta(seconds=30), attempts=1)
    held = reason_of(leased, None, AROUND)
    assert held is not None
    assert held.code == "leased"
    assert "worker w1" in held.text
    assert _code(replace(leased, lease_until=NOW - timedelta(seconds=1))) == "lease_expired"
    assert _code(SEEN, None, replace(AROUND, live_workers=0)) == "no_worker"
    assert _code(SEEN, None, replace(AROUND, live_workers=None)) == "waiting_claim"  # unknown: not claimed
    assert _code(replace(SEEN, chain_faults=2, attempts=2)) == "chain_fault_retry"
    assert _code(replace(SEEN, attempts=3)) == "waiting_retry"
    assert _code(SEEN) == "waiting_claim"


def test_failures_carry_the_recorded_reason_and_are_stuck() -> None:
    failed = reason_of(replace(SEEN, status="failed", failure_reason="FAULT: no GAS"), None, AROUND)
    assert failed is not None
    assert failed.stuck
    assert failed.text.endswith("FAULT: no GAS")
    callback = reason_of(replace(SEEN, status="callback_failed", callback_failure="threw"), None, AROUND)
    assert callback is not None
    assert (callback.code, callback.stuck) == ("callback_failed", True)
    partial = replace(SEEN, status="fulfilled", callback_failure="dry-run faulted")
    assert _code(partial) == "callback_not_delivered"


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    position = Position(NOW, "oracle", "0x" + "22" * 20, 2**62)
    assert decode_cursor(encode_cursor(position)) == position
    for forged in ("", "!!!", "WzEsMiwzXQ", encode_cursor(position)[:-3]):
        with pytest.raises(InvalidInput):
            decode_cursor(forged)


def test_every_mapped_scope_exists() -> None:
    assert set(SERVICE_SCOPES.values()) <= TENANT_SCOPES


def test_a_lower_attempt_limit_dead_letters_sooner() -> None:
    assert next_retry(1, 0.0, 10.0, 0.5, max_attempts=1) is None
    assert next_retry(1, 0.0, 10.0, 0.5, max_attempts=2) is not None
    assert next_retry(16, 0.0, 10.0, 0.5, max_attempts=99) is None  # never above MAX_ATTEMPTS
