"""Pure oracle rules: the signed message encoding, request limits, fetch specs, secret references."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.oracle import (
    MESSAGE_TAG,
    FetchSpec,
    ResultCode,
    check_request,
    inject_secrets,
    response_message,
    secret_references,
)


def test_message_layout() -> None:
    message = response_message(5, ResultCode.SUCCESS, 1_700_000_000_123, "https://a.example/p", "$.p", b"1.5")
    expected = (
        b"NSL-ORACLE-V1"
        + struct.pack("<Q", 5)
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
    assert response_message(1, ResultCode.UPSTREAM_ERROR, 0, "ü", "", b"")[21:25] == b"\xff\x00\x00\x00"
    assert response_message(1, 0, 0, "ü", "", b"")[33:37] == struct.pack("<I", 2)  # UTF-8 byte length


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
    message = response_message(request_id, code, ts, url, filter_, result)
    assert message.startswith(MESSAGE_TAG)
    assert len(message) == 13 + 8 + 4 + 8 + 12 + len(url.encode()) + len(filter_.encode()) + len(result)
    if url:
        shifted = response_message(request_id, code, ts, url[:-1], url[-1] + filter_, result)
        assert shifted != message


def test_message_ranges() -> None:
    for bad in ((-1, 0, 0), (2**64, 0, 0), (0, -1, 0), (0, 2**32, 0), (0, 0, -1)):
        with pytest.raises(InvalidInput):
            response_message(bad[0], bad[1], bad[2], "", "", b"")


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
