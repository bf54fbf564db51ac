"""The pure V2 encodings (``enclave/wire/randomness.py``; the chain tests check them against the contract)."""

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


MAGIC = 0x4E454F33
CONTRACT = bytes(range(100, 120))
CONSUMER = bytes(range(200, 220))
FACTS = randomness.RandomnessFacts(MAGIC, CONTRACT, 7, CONSUMER, SEED)


def test_message_layouts() -> None:
    rid = (7).to_bytes(8, "little")
    magic = MAGIC.to_bytes(4, "little")
    assert randomness.vrf_input(FACTS) == b"NSL-RANDOMNESS-VRF-V2" + magic + CONTRACT + rid + SEED
    message = randomness.fulfil_message(FACTS, OUTPUT, PROOF)
    assert message == (
        b"NSL-RANDOMNESS-V2"
        + magic
        + CONTRACT
        + rid
        + CONSUMER
        + SEED
        + OUTPUT
        + hashlib.sha256(PROOF).digest()
    )
    assert len(message) == 17 + 4 + 20 + 8 + 20 + 32 + 32 + 32
    assert randomness.output_from_proof(PROOF) == OUTPUT
    with pytest.raises(InvalidInput):
        randomness.output_from_proof(PROOF[:95])


@pytest.mark.parametrize(
    "field",
    [
        {"seed": SEED[:31]},
        {"contract": CONTRACT[:19]},
        {"consumer": CONSUMER + b"\x00"},
        {"magic": 2**32},
        {"magic": -1},
        {"request_id": 2**63},
    ],
)
def test_malformed_facts_are_refused(field: dict[str, object]) -> None:
    values: dict[str, object] = {
        "magic": MAGIC,
        "contract": CONTRACT,
        "request_id": 7,
        "consumer": CONSUMER,
        "seed": SEED,
    }
    with pytest.raises(InvalidInput):
        randomness.RandomnessFacts(**{**values, **field})  # type: ignore[arg-type]


def test_every_fact_changes_both_messages() -> None:
    """Another network, contract, request, consumer or seed: another VRF input and fulfil message."""
    variants = [
        randomness.RandomnessFacts(MAGIC + 1, CONTRACT, 7, CONSUMER, SEED),
        randomness.RandomnessFacts(MAGIC, CONSUMER, 7, CONSUMER, SEED),
        randomness.RandomnessFacts(MAGIC, CONTRACT, 8, CONSUMER, SEED),
        randomness.RandomnessFacts(MAGIC, CONTRACT, 7, CONTRACT, SEED),
        randomness.RandomnessFacts(MAGIC, CONTRACT, 7, CONSUMER, bytes(32)),
    ]
    messages = {randomness.fulfil_message(f, OUTPUT, PROOF) for f in [FACTS, *variants]}
    assert len(messages) == 6
    # the consumer is bound by the fulfil message (the VRF input fixes the output per request)
    inputs = {randomness.vrf_input(f) for f in [FACTS, *variants]}
    assert len(inputs) == 5


def test_offchain_facts_can_never_be_a_chain_request() -> None:
    assert randomness.OFFCHAIN_MAGIC == 0
    assert bytes(20) == randomness.OFFCHAIN_CONTRACT
    assert randomness.offchain_consumer("acme") != randomness.offchain_consumer("acme2")
    assert len(randomness.offchain_consumer("acme")) == 20
    assert randomness.script_hash_bytes("0x" + CONTRACT[::-1].hex()) == CONTRACT


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
