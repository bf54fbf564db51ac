"""What a repeat gets, decided from the stored record alone (no I/O)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from neo_service_layer.kernel.idempotency.rules import (
    KEY_PATTERN,
    InFlight,
    KeyRecord,
    KeyReused,
    KeyScope,
    Replay,
    State,
    StoredResponse,
    Withheld,
    judge,
    kept,
    kept_headers,
    resource_id,
    withholds_body,
)

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
ANSWER = StoredResponse(201, (("content-type", "application/json"),), b'{"id": "t_1"}')


def _record(state: State = State.COMPLETED, **changes: object) -> KeyRecord:
    values: dict[str, object] = {
        "fingerprint": "f",
        "state": state,
        "claim_token": "c",
        "locked_until": NOW + timedelta(seconds=30),
        "expires_at": NOW + timedelta(hours=1),
        "response": ANSWER if state is State.COMPLETED else None,
    }
    values.update(changes)
    return KeyRecord(**values)  # type: ignore[arg-type]


def test_a_repeat_gets_the_kept_answer_or_is_refused() -> None:
    assert judge(_record(), "f", NOW) == Replay(ANSWER)
    assert judge(_record(), "other body", NOW) == KeyReused()
    assert judge(_record(State.IN_FLIGHT), "f", NOW) == InFlight(5)
    in_two = _record(State.IN_FLIGHT, locked_until=NOW + timedelta(seconds=1.5))
    assert judge(in_two, "f", NOW) == InFlight(2)
    assert judge(_record(State.IN_FLIGHT), "other body", NOW) == KeyReused()
    withheld = StoredResponse(201, (), None, "key_1")
    assert judge(_record(response=withheld), "f", NOW) == Withheld(withheld)


def test_an_expired_key_or_a_lapsed_claim_is_free_again() -> None:
    assert judge(_record(expires_at=NOW), "f", NOW) is None
    assert judge(_record(expires_at=NOW), "other body", NOW) is None
    assert judge(_record(State.IN_FLIGHT, locked_until=NOW), "f", NOW) is None


def test_what_is_kept() -> None:
    assert kept(201)
    assert kept(422)
    assert not kept(500)
    assert not kept(503)
    assert withholds_body(201, one_time_secret=True)
    assert not withholds_body(422, one_time_secret=True)
    assert not withholds_body(201, one_time_secret=False)
    raw = [
        (b"Content-Type", b"application/json"),
        (b"Location", b"/x"),
        (b"x-request-id", b"r"),
        (b"date", b"d"),
    ]
    assert kept_headers(raw) == (("content-type", "application/json"), ("location", "/x"))
    assert resource_id(b'{"id": "key_1", "key": "nsl_secret"}') == "key_1"
    assert resource_id(b'{"job": {"jobId": "job_1"}, "webhookSecret": "s"}') == "job_1"
    assert resource_id(b'{"webhookSecret": "s"}') is None
    assert resource_id(b"not json") is None


def test_keys_are_printable_ascii_and_scopes_are_distinct() -> None:
    pattern = re.compile(KEY_PATTERN)
    assert pattern.fullmatch("a b~!")
    for bad in ("", "tab\t", "caf\xe9", "nl\n"):
        assert not pattern.fullmatch(bad)
    one = KeyScope("t", "user:u", "POST", "/api/v1/keys", "k")
    assert one.digest() != KeyScope("t", "api_key:u", "POST", "/api/v1/keys", "k").digest()
    assert one.digest() != KeyScope("t", "user:u", "POST", "/api/v1/keys/x/rotate", "k").digest()
