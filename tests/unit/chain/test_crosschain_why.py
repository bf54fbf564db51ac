"""Why a cross-chain message is where it is: every branch of ``rules.why`` from the stored facts, and the
list's cursor."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.crosschain.rules import Message, MessageStatus, ReceiptStatus
from neo_service_layer.services.crosschain.rules.why import (
    Around,
    DeliveryTx,
    Position,
    Reason,
    StoredMessage,
    decode_cursor,
    encode_cursor,
    why,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ALIVE = Around(NOW, live_workers=1)
TX = "0x" + "ab" * 32


def _stored(
    status: MessageStatus = MessageStatus.SEEN,
    *,
    reason: str | None = None,
    note: str | None = None,
    attempts: int = 0,
    receipt: ReceiptStatus = ReceiptStatus.NONE,
    deliver_tx: str | None = None,
    receipt_tx: str | None = None,
    lease_owner: str | None = None,
    lease_until: datetime | None = None,
) -> StoredMessage:
    message = Message(
        src_chain=2**63 + 42, nonce=7, dest_chain=31337, sender=b"\x01" * 20, receiver=b"\x02" * 20,
        payload=b"ping", gas_limit=200_000, fee=1, src_block=9, src_tx="0x" + "11" * 32, status=status,
        attempts=attempts, deliver_tx=deliver_tx, dest_block=None, dest_tx=None, result=None, reason=reason,
        relay_note=note, receipt_status=receipt, receipt_attempt=0, receipt_tx=receipt_tx, receipt_block=None,
    )  # fmt: skip
    return StoredMessage(message, lease_owner, lease_until, NOW - timedelta(minutes=1), NOW)


def _tx(service: str = "crosschain-n3", **facts: object) -> DeliveryTx:
    base = DeliveryTx(TX, service, "pending", 0, 120)
    return replace(base, **facts)  # type: ignore[arg-type]


def _code(reason: Reason | None) -> tuple[str, bool] | None:
    return None if reason is None else (reason.code, reason.stuck)


# seen ---------------------------------------------------------------------------------------------


def test_seen_under_a_live_lease_names_the_worker_even_with_no_heartbeat() -> None:
    leased = _stored(lease_owner="w1", lease_until=NOW + timedelta(seconds=30))
    reason = why(leased, None, Around(NOW, live_workers=0))
    assert _code(reason) == ("leased", False)
    assert reason is not None
    assert "worker w1" in reason.text


def test_seen_with_no_live_worker_is_stuck() -> None:
    assert _code(why(_stored(), None, Around(NOW, live_workers=0))) == ("no_worker", True)


def test_seen_with_unknown_workers_is_not_called_stuck() -> None:
    assert _code(why(_stored(), None, Around(NOW))) == ("waiting_claim", False)


@pytest.mark.parametrize(
    ("given_back", "code"),
    [
        ("waiting: DeliveringPaused", "direction_paused"),
        ("waiting: UnknownRoute", "route_unknown"),
        ("waiting: the enclave does not sign this transaction: gas above cap", "enclave_caps"),
    ],
)
def test_seen_given_back_for_what_only_an_operator_changes_is_stuck(given_back: str, code: str) -> None:
    stored = _stored(note=given_back, lease_until=NOW + timedelta(seconds=5))
    reason = why(stored, None, ALIVE)
    assert _code(reason) == (code, True)
    assert reason is not None
    assert given_back in reason.text
    assert "until 2026-12-03T12:00:05" in reason.text


def test_seen_carried_by_someone_else_waits_for_the_watcher() -> None:
    stored = _stored(note="carried by someone else (AlreadyDelivered); reading its outcome", lease_until=NOW)
    reason = why(stored, None, ALIVE)
    assert _code(reason) == ("carried_elsewhere", False)
    assert reason is not None
    assert "claimable again now" in reason.text


def test_seen_given_back_for_a_passing_reason_waits() -> None:
    stored = _stored(note="waiting: enclave node not confirmed yet", lease_until=NOW)
    reason = why(stored, None, ALIVE)
    assert _code(reason) == ("relay_waiting", False)
    assert reason is not None
    assert reason.text.endswith("waiting: enclave node not confirmed yet")


@pytest.mark.parametrize("status", ["expired", "faulted", "replaced"])
def test_seen_after_its_delivery_can_never_count_is_delivered_again(status: str) -> None:
    stored = _stored(deliver_tx=TX)
    reason = why(stored, _tx(status=status), ALIVE)
    assert _code(reason) == ("redelivery", False)
    assert reason is not None
    assert status in reason.text


def test_seen_with_a_lease_run_out_waits_for_a_new_claim() -> None:
    stored = _stored(lease_owner="w2", lease_until=NOW - timedelta(seconds=1))
    reason = why(stored, None, ALIVE)
    assert _code(reason) == ("lease_expired", False)
    assert reason is not None
    assert "worker w2" in reason.text


def test_seen_never_claimed_waits_for_the_relayer() -> None:
    reason = why(_stored(), None, ALIVE)
    assert _code(reason) == ("waiting_claim", False)
    assert reason is not None
    assert "2026-12-03T11:59:00" in reason.text


# delivering ---------------------------------------------------------------------------------------


def _delivering() -> StoredMessage:
    return _stored(MessageStatus.DELIVERING, deliver_tx=TX, lease_owner="w1", lease_until=NOW)


def test_delivering_without_its_outbox_row_is_stuck() -> None:
    assert _code(why(_delivering(), None, ALIVE)) == ("tx_missing", True)


def test_delivering_included_waits_for_the_watcher_unless_no_worker_runs() -> None:
    included = _tx(status="included", included_block=77, send_count=1)
    reason = why(_delivering(), included, ALIVE)
    assert _code(reason) == ("tx_included", False)
    assert reason is not None
    assert "block 77" in reason.text
    assert _code(why(_delivering(), included, Around(NOW, live_workers=0))) == ("no_worker", True)


def test_delivering_with_its_transaction_abandoned_but_not_given_back_is_stuck() -> None:
    assert _code(why(_delivering(), _tx(status="expired"), ALIVE)) == ("tx_abandoned", True)


def test_delivering_with_no_worker_is_stuck() -> None:
    assert _code(why(_delivering(), _tx(send_count=1), Around(NOW, live_workers=0))) == ("no_worker", True)


def test_delivering_with_a_failed_send_is_stuck_and_says_why() -> None:
    reason = why(_delivering(), _tx(send_count=2, last_error="RPC: insufficient funds"), ALIVE)
    assert _code(reason) == ("tx_send_error", True)
    assert reason is not None
    assert "insufficient funds" in reason.text
    assert "valid until block 120" in reason.text


def test_delivering_unsent_and_sent_not_yet_included() -> None:
    assert _code(why(_delivering(), _tx(), ALIVE)) == ("tx_unsent", False)
    reason = why(_delivering(), _tx(send_count=3, last_sent_at=NOW), ALIVE)
    assert _code(reason) == ("tx_not_included", False)
    assert reason is not None
    assert "sent 3 time(s)" in reason.text


def test_an_evm_delivery_claims_no_last_block() -> None:
    reason = why(_delivering(), _tx("crosschain-evm", send_count=1, valid_until_block=0), ALIVE)
    assert reason is not None
    assert "valid until" not in reason.text


# executed, failed, refused ------------------------------------------------------------------------


def _executed(receipt: ReceiptStatus, **facts: object) -> StoredMessage:
    return _stored(MessageStatus.EXECUTED, attempts=1, receipt=receipt, deliver_tx=TX, **facts)  # type: ignore[arg-type]


def test_executed_with_its_receipt_stored_is_done() -> None:
    assert why(_executed(ReceiptStatus.STORED), _tx(status="included", included_block=5), ALIVE) is None


def test_executed_receipt_due_sending_or_missing() -> None:
    assert _code(why(_executed(ReceiptStatus.DUE), None, ALIVE)) == ("receipt_due", False)
    assert _code(why(_executed(ReceiptStatus.DUE), None, Around(NOW, live_workers=0))) == ("no_worker", True)
    sending = why(_executed(ReceiptStatus.SENDING, receipt_tx="0x" + "cc" * 32), None, ALIVE)
    assert _code(sending) == ("receipt_sending", False)
    assert sending is not None
    assert "cc" * 32 in sending.text
    assert _code(why(_executed(ReceiptStatus.NONE), None, ALIVE)) == ("receipt_missing", True)


def test_executed_receipt_being_carried_or_given_back() -> None:
    held = _executed(ReceiptStatus.DUE, lease_owner="w3", lease_until=NOW + timedelta(seconds=9))
    assert _code(why(held, None, ALIVE)) == ("leased", False)
    refused = _executed(ReceiptStatus.DUE, note="receipt refused: no such execution", lease_until=NOW)
    assert _code(why(refused, None, ALIVE)) == ("receipt_refused", True)
    waiting = _executed(ReceiptStatus.DUE, note="waiting: StaleReceipt", lease_until=NOW)
    assert _code(why(waiting, None, ALIVE)) == ("relay_waiting", False)


def test_failed_is_stuck_names_the_revert_and_the_receipt() -> None:
    failed = _stored(
        MessageStatus.FAILED, reason="receiver threw an exception", attempts=2, receipt=ReceiptStatus.DUE
    )
    reason = why(failed, None, ALIVE)
    assert _code(reason) == ("receiver_failed", True)
    assert reason is not None
    assert "attempt 2: receiver threw an exception" in reason.text
    assert "does not retry" in reason.text
    assert "receipt is due" in reason.text
    stored = why(
        replace(failed, message=replace(failed.message, receipt_status=ReceiptStatus.STORED)), None, ALIVE
    )
    assert stored is not None
    assert stored.text.endswith("its receipt is stored")


def test_failed_with_its_receipt_given_back_names_the_revert_and_the_relayers_note() -> None:
    """The receiver's revert reason and the relayer's note on the receipt are two facts: both are shown,
    neither in place of the other."""
    failed = _stored(
        MessageStatus.FAILED,
        reason="receiver threw an exception",
        note="receipt refused: no such execution",
        attempts=1,
        receipt=ReceiptStatus.DUE,
        lease_until=NOW + timedelta(seconds=5),
    )
    reason = why(failed, None, ALIVE)
    assert _code(reason) == ("receiver_failed", True)
    assert reason is not None
    assert reason.text.startswith("the receiver reverted on attempt 1: receiver threw an exception. ")
    assert "receipt: the relayer waits (until 2026-12-03T12:00:05+00:00)" in reason.text
    assert reason.text.endswith("receipt refused: no such execution")
    passing = replace(failed, message=replace(failed.message, relay_note="waiting: StaleReceipt"))
    reason = why(passing, None, ALIVE)
    assert reason is not None
    assert "receiver threw an exception" in reason.text
    assert reason.text.endswith(
        "receipt: the relayer gave it back (until 2026-12-03T12:00:05+00:00): waiting: StaleReceipt"
    )


def test_an_outcome_reason_is_never_read_as_the_relayers_note() -> None:
    """A reason on a message the relayer has no note for is not a wait: it does not say "given back"."""
    seen = _stored(reason="receiver threw an exception")
    assert _code(why(seen, None, ALIVE)) == ("waiting_claim", False)
    executed = _executed(ReceiptStatus.DUE, reason="an old text")
    assert _code(why(executed, None, ALIVE)) == ("receipt_due", False)


def test_refused_is_final_and_says_why() -> None:
    reason = why(_stored(MessageStatus.REFUSED, reason="refused by the gateway: UnknownSource"), None, ALIVE)
    assert _code(reason) == ("refused", True)
    assert reason is not None
    assert reason.text.endswith("UnknownSource")
    assert _code(why(_stored(MessageStatus.REFUSED), None, ALIVE)) == ("refused", True)


# the cursor ---------------------------------------------------------------------------------------


def test_a_cursor_names_its_position_and_nothing_else_passes() -> None:
    position = Position(NOW, 2**63 + 42, 7)
    assert decode_cursor(encode_cursor(position)) == position

    def raw(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()

    for bad in (
        "not base64!",
        raw([NOW.isoformat(), "1"]),
        raw([NOW.isoformat(), 1, 7]),
        raw([NOW.isoformat(), "x1", 7]),
        raw([NOW.isoformat(), "1", 2**63]),
        raw([NOW.isoformat(), "1", -1]),
        raw([NOW.isoformat(), "1", True]),
        raw(["2026-12-03T12:00:00", "1", 7]),  # no time zone
        raw(["yesterday", "1", 7]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ):
        with pytest.raises(InvalidInput):
            decode_cursor(bad)
