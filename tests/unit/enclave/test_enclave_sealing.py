"""Sealed blobs and key records refuse to open when edited, truncated, moved or sealed elsewhere."""

from __future__ import annotations

import os

import pytest

from neo_service_layer.enclave.sealing import Sealer, SealUse, read_record_header
from neo_service_layer.enclave.wire.keys import SealedDataInvalid

CONTEXT = {"tenant": "acme", "label": "api-secret"}
PLAINTEXT = b"the quick brown fox" * 3


def test_roundtrip(sealer: Sealer) -> None:
    blob = sealer.seal(SealUse.DATA, CONTEXT, PLAINTEXT)
    assert PLAINTEXT not in blob
    assert sealer.unseal(SealUse.DATA, CONTEXT, blob) == PLAINTEXT


def test_same_plaintext_seals_differently(sealer: Sealer) -> None:
    assert sealer.seal(SealUse.DATA, CONTEXT, PLAINTEXT) != sealer.seal(SealUse.DATA, CONTEXT, PLAINTEXT)


def test_every_single_bit_flip_is_refused(sealer: Sealer) -> None:
    blob = sealer.seal(SealUse.DATA, CONTEXT, b"short secret")
    for index in range(len(blob)):
        for bit in (0, 7):
            edited = bytearray(blob)
            edited[index] ^= 1 << bit
            with pytest.raises(SealedDataInvalid):
                sealer.unseal(SealUse.DATA, CONTEXT, bytes(edited))


@pytest.mark.parametrize("keep", [0, 3, 4, 16, 31, -1])
def test_truncated_is_refused(sealer: Sealer, keep: int) -> None:
    blob = sealer.seal(SealUse.DATA, CONTEXT, PLAINTEXT)
    with pytest.raises(SealedDataInvalid):
        sealer.unseal(SealUse.DATA, CONTEXT, blob[:keep])


@pytest.mark.parametrize(
    "other",
    [{"tenant": "other", "label": "api-secret"}, {"tenant": "acme", "label": "other"}, {"tenant": "acme"}],
)
def test_moved_to_another_tenant_or_label_is_refused(sealer: Sealer, other: dict[str, str]) -> None:
    blob = sealer.seal(SealUse.DATA, CONTEXT, PLAINTEXT)
    with pytest.raises(SealedDataInvalid):
        sealer.unseal(SealUse.DATA, other, blob)


def test_uses_do_not_open_each_other(sealer: Sealer) -> None:
    blob = sealer.seal(SealUse.DATA, CONTEXT, PLAINTEXT)
    with pytest.raises(SealedDataInvalid):
        sealer.unseal(SealUse.ENCLAVE_STATE, CONTEXT, blob)


def test_other_sealing_secret_is_refused(sealer: Sealer) -> None:
    blob = sealer.seal(SealUse.DATA, CONTEXT, PLAINTEXT)
    with pytest.raises(SealedDataInvalid):
        Sealer(os.urandom(32)).unseal(SealUse.DATA, CONTEXT, blob)


def test_short_secret_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least"):
        Sealer(b"x" * 8)


HEADER = {"fmt": 1, "key_id": "k_1", "version": 1, "tenant": "acme", "kind": "secp256r1", "public_key": "02"}


def test_record_roundtrip_and_readable_header(sealer: Sealer) -> None:
    record = sealer.seal_record(HEADER, b"private payload")
    assert read_record_header(record) == HEADER
    assert sealer.open_record(record) == (HEADER, b"private payload")


@pytest.mark.parametrize(("field", "value"), [("key_id", "k_2"), ("tenant", "evil"), ("version", 2)])
def test_record_header_edit_is_refused(sealer: Sealer, field: str, value: object) -> None:
    record = sealer.seal_record(HEADER, b"private payload")
    sealed_payload = record[6 + int.from_bytes(record[4:6], "big") :]
    forged_record = sealer.seal_record(dict(HEADER, **{field: value}), b"other payload")
    forged_header_part = forged_record[: 6 + int.from_bytes(forged_record[4:6], "big")]
    with pytest.raises(SealedDataInvalid):
        sealer.open_record(forged_header_part + sealed_payload)


@pytest.mark.parametrize("record", [b"", b"NSK\x01", b"NSK\x01\x00\x10{}", b"XXXX\x00\x02{}"])
def test_malformed_records_are_refused(sealer: Sealer, record: bytes) -> None:
    with pytest.raises(SealedDataInvalid):
        sealer.open_record(record)
