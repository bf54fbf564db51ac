"""The pure encodings of ``domain.randomness`` (the chain tests check them against the contract)."""

from __future__ import annotations

import hashlib

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.randomness import rules as randomness

SEED = bytes(range(32))
PROOF = bytes(range(96))
OUTPUT = hashlib.sha256(PROOF).digest()


def test_request_id_is_eight_bytes_little_endian() -> None:
    assert randomness.encode_request_id(0) == bytes(8)
    assert randomness.encode_request_id(0x0102) == b"\x02\x01" + bytes(6)
    with pytest.raises(InvalidInput):
        randomness.encode_request_id(-1)
    with pytest.raises(InvalidInput):
        randomness.encode_request_id(2**63)


def test_message_layouts() -> None:
    rid = (7).to_bytes(8, "little")
    assert randomness.vrf_input(7, SEED) == b"NSL-RANDOMNESS-VRF-V1" + rid + SEED
    message = randomness.fulfil_message(7, SEED, OUTPUT, PROOF)
    assert message == b"NSL-RANDOMNESS-V1" + rid + SEED + OUTPUT + hashlib.sha256(PROOF).digest()
    assert len(message) == 121
    assert randomness.output_from_proof(PROOF) == OUTPUT
    with pytest.raises(InvalidInput):
        randomness.vrf_input(7, SEED[:31])
    with pytest.raises(InvalidInput):
        randomness.output_from_proof(PROOF[:95])


def test_words_are_hash_of_output_and_index_below_2_pow_255() -> None:
    words = randomness.derive_words(OUTPUT, 100)
    assert len(words) == 100
    assert len(set(words)) == 100
    assert all(0 <= w < 2**255 for w in words)
    first = int.from_bytes(hashlib.sha256(OUTPUT + b"\x00").digest(), "little") % 2**255
    assert words[0] == first
    assert randomness.derive_words(OUTPUT, 3) == words[:3]
    for bad in (0, 101):
        with pytest.raises(InvalidInput):
            randomness.derive_words(OUTPUT, bad)


def test_request_limits() -> None:
    randomness.check_request(1, b"x" * 512)
    randomness.check_request(100, b"")
    with pytest.raises(InvalidInput):
        randomness.check_request(0, b"")
    with pytest.raises(InvalidInput):
        randomness.check_request(101, b"")
    with pytest.raises(InvalidInput):
        randomness.check_request(1, b"x" * 513)
