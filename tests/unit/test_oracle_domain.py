"""Pure oracle rules: the signed message encoding, request limits, fetch specs, secret references."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.oracle import (
    MESSAGE_PREFIX,
    MESSAGE_TAG,
    FetchSpec,
    OracleFacts,
    ResultCode,
    check_request,
    inject_secrets,
    offchain_consumer,
    response_message,
    secret_references,
)

CONTRACT = bytes(range(20))
CONSUMER = bytes(range(100, 120))


def _facts(request_id: int, url: str, filter_: str, magic: int = 860833102) -> OracleFacts:
    return OracleFacts(magic, CONTRACT, request_id, CONSUMER, url, filter_)


def test_message_layout() -> None:
    facts = _facts(5, "https://a.example/p", "$.p", magic=2**32 - 1)
    message = response_message(facts, ResultCode.SUCCESS, 1_700_000_000_123, b"1.5")
    expected = (
        b"NSL-ORACLE-V2"
        + struct.pack("<I", 2**32 - 1)
        + CONTRACT
        + struct.pack("<Q", 5)
        + CONSUMER
        + struct.pack("<I", 0)
        + struct.pack("<Q", 1_700_000_000_123)
        + struct.pack("<I", 19)
        + b"https://a.example/p"
        + struct.pack("<I", 3)
        + b"$.p"
        + struct.pack("<I", 3)
        + b"1.5"
    )
    assert message == expected
    assert message.startswith(MESSAGE_PREFIX)
    assert (
        response_message(_facts(1, "ü", ""), ResultCode.UPSTREAM_ERROR, 0, b"")[65:69] == b"\xff\x00\x00\x00"
    )
    assert response_message(_facts(1, "ü", ""), 0, 0, b"")[77:81] == struct.pack("<I", 2)  # UTF-8 length


def test_every_fact_changes_the_message() -> None:
    base = _facts(5, "https://a.example/p", "$.p")
    message = response_message(base, 0, 1, b"1")
    for other in (
        replace(base, magic=base.magic + 1),
        replace(base, contract=bytes(20)),
        replace(base, consumer=bytes(20)),
        replace(base, request_id=6),
        replace(base, url="https://a.example/q"),
        replace(base, filter="$.q"),
    ):
        assert response_message(other, 0, 1, b"1") != message


def test_offchain_facts() -> None:
    facts = OracleFacts.offchain(9, "tenant-a", "https://a.example/p", "")
    assert facts.is_offchain
    assert (facts.magic, facts.contract) == (0, bytes(20))
    assert facts.consumer == offchain_consumer("tenant-a") != offchain_consumer("tenant-b")
    assert not _facts(9, "https://a.example/p", "").is_offchain


@given(
    st.integers(0, 2**63 - 1),
    st.sampled_from(list(ResultCode)),
    st.integers(0, 2**63 - 1),
    st.text(max_size=40),
    st.text(max_size=40),
    st.binary(max_size=40),
)
def test_messages_are_unambiguous(
    request_id: int, code: ResultCode, ts: int, url: str, filter_: str, result: bytes
) -> None:
    """Length prefixes: moving bytes between fields always changes the message."""
    message = response_message(_facts(request_id, url, filter_), code, ts, result)
    assert message.startswith(MESSAGE_TAG)
    assert len(message) == 13 + 4 + 20 + 8 + 20 + 4 + 8 + 12 + len(url.encode()) + len(
        filter_.encode()
    ) + len(result)
    if url:
        shifted = response_message(_facts(request_id, url[:-1], url[-1] + filter_), code, ts, result)
        assert shifted != message


def test_message_ranges() -> None:
    for code, ts in ((-1, 0), (2**32, 0), (0, -1), (0, 2**64)):
        with pytest.raises(InvalidInput):
            response_message(_facts(0, "", ""), code, ts, b"")
    for bad in (
        {"request_id": -1},
        {"request_id": 2**63},
        {"magic": -1},
        {"magic": 2**32},
        {"contract": bytes(19)},
        {"consumer": bytes(21)},
    ):
        with pytest.raises(InvalidInput):
            replace(_facts(0, "", ""), **bad)  # type: ignore[arg-type]


def test_request_limits() -> None:
    check_request("u" * 512, "f" * 256, b"x" * 512)
    for url, filter_, data in (
        ("", "", b""),
        ("u" * 513, "", b""),
        ("u", "f" * 257, b""),
        ("u", "", b"x" * 513),
    ):
        with pytest.raises(InvalidInput):
            check_request(url, filter_, data)


def test_secret_references_and_injection() -> None:
    text = "Bearer {{secret:api.key}} and {{secret:other}} and {{secret:api.key}} and {{secret:bad name}}"
    assert secret_references(text) == ["api.key", "other"]
    assert inject_secrets("k={{secret:a}}", {"a": "v"}) == "k=v"
    with pytest.raises(InvalidInput):
        inject_secrets("{{secret:missing}}", {})


def test_spec_roundtrip_and_checks() -> None:
    spec = FetchSpec(
        url="https://a.example/",
        method="POST",
        headers=(("X-Key", "{{secret:k}}"),),
        body='{"q": "{{secret:b}}"}',
        filter="$.x",
        timeout_seconds=2.5,
    )
    assert FetchSpec.from_dict(spec.to_dict()) == spec
    assert spec.secret_names() == ["k", "b"]
    assert FetchSpec.from_dict({"url": "https://a.example/"}) == FetchSpec(url="https://a.example/")
    with pytest.raises(InvalidInput):
        FetchSpec.from_dict({"url": "https://a.example/", "timeout_seconds": True})
