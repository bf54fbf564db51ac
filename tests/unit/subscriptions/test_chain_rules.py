"""The chain filter of a ``chain.notification`` subscription: validated like a tenant job's event trigger
and matched against the JSON an event carries (bytes as base64, hash160 little-endian)."""

from __future__ import annotations

import base64
import json

import pytest

from neo_service_layer.services.subscriptions.use_cases.chain_source import (
    BadChainFilter,
    chain_filter,
    deliverable,
    filter_json,
)

C = "0x" + "ab" * 20
ACCOUNT = "0x" + "0123456789" * 4
TYPES = ["chain.notification"]


def _data(contract: str, event: str, values: list[object]) -> str:
    shown = [base64.b64encode(v).decode() if isinstance(v, bytes) else v for v in values]
    return json.dumps({"contract": contract, "event": event, "values": shown, "block": 1, "position": 0})


def test_a_filter_matches_contract_event_and_arguments() -> None:
    wanted = filter_json(
        chain_filter(
            {
                "contract": C.upper().replace("0X", "0x"),
                "event": "Transfer",
                "filters": [{"index": 1, "hash160": ACCOUNT}, {"index": 2, "value": 5}],
            },
            TYPES,
        )
    )
    account = bytes.fromhex(ACCOUNT[2:])[::-1]  # as Transfer carries it
    assert deliverable(TYPES, wanted, "chain.notification", _data(C, "Transfer", [b"x" * 20, account, 5]))
    assert not deliverable(TYPES, wanted, "chain.notification", _data(C, "Transfer", [b"x" * 20, account, 6]))
    assert not deliverable(
        TYPES, wanted, "chain.notification", _data(C, "Transfer", [b"x" * 20, b"y" * 20, 5])
    )
    assert not deliverable(TYPES, wanted, "chain.notification", _data(C, "Approval", [b"x" * 20, account, 5]))
    other = "0x" + "cd" * 20
    assert not deliverable(
        TYPES, wanted, "chain.notification", _data(other, "Transfer", [b"x" * 20, account, 5])
    )
    assert not deliverable(TYPES, wanted, "chain.notification", _data(C, "Transfer", [b"x" * 20]))
    assert not deliverable(TYPES, wanted, "audit.security", "{}")  # a chain filter takes chain events only
    assert not deliverable(TYPES, wanted, "chain.notification", "not json")


def test_string_values_match_the_bytes_the_chain_gives() -> None:
    wanted = filter_json(
        chain_filter({"contract": C, "event": "Ping", "filters": [{"index": 0, "value": "hi"}]}, TYPES)
    )
    assert deliverable(TYPES, wanted, "chain.notification", _data(C, "Ping", [b"hi"]))
    assert not deliverable(TYPES, wanted, "chain.notification", _data(C, "Ping", [b"ho"]))


def test_subscriptions_without_a_chain_filter_get_chain_events_only_by_name() -> None:
    event = _data(C, "Ping", [1])
    assert deliverable(["*"], None, "chain.notification", event)
    assert deliverable(["chain.notification"], None, "chain.notification", event)
    assert deliverable(["chain.*"], None, "chain.notification", event)
    assert not deliverable(["automation.*", "audit.security"], None, "chain.notification", event)


@pytest.mark.parametrize(
    ("raw", "types"),
    [
        ({"contract": "0x1234", "event": "Ping"}, TYPES),
        ({"contract": C, "event": ""}, TYPES),
        ({"contract": C, "event": "P\u00e9"}, TYPES),
        ({"contract": C, "event": "x" * 65}, TYPES),
        ({"contract": C, "event": "Ping", "filters": [{"index": 0, "value": 1, "hash160": ACCOUNT}]}, TYPES),
        ({"contract": C, "event": "Ping", "filters": [{"index": 0}]}, TYPES),
        (
            {"contract": C, "event": "Ping", "filters": [{"index": 0, "value": 1}, {"index": 0, "value": 2}]},
            TYPES,
        ),
        ({"contract": C, "event": "Ping", "filters": [{"index": i, "value": 1} for i in range(5)]}, TYPES),
        ({"contract": C, "event": "Ping", "filters": [{"index": 0, "hash160": "0x12"}]}, TYPES),
        ({"contract": C, "event": "Ping", "filters": [{"index": 0, "value": 2**60}]}, TYPES),
        ({"contract": C, "event": "Ping"}, ["chain.notification", "audit.security"]),
        ({"contract": C, "event": "Ping"}, ["*"]),
    ],
)
def test_bad_filters_are_refused(raw: dict[str, object], types: list[str]) -> None:
    with pytest.raises(BadChainFilter):
        chain_filter(raw, types)
