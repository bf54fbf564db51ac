"""The EVM pieces of the pipeline that are plain functions: replacement fees, signed-transaction fields,
and the randomness contract's events as requests and updates."""

from __future__ import annotations

from eth_account import Account
from eth_utils.crypto import keccak

from neo_service_layer.kernel.chain.adapters.evm_errors import CustomErrors
from neo_service_layer.kernel.chain.adapters.evm_fees import Fees
from neo_service_layer.kernel.chain.adapters.evm_transactions import bumped, decode_fields
from neo_service_layer.kernel.chain.ports.chain import ChainEvent
from neo_service_layer.kernel.chain.rules import ChainEventKind
from neo_service_layer.services.randomness.use_cases.evm import decode_evm_events

CONSUMER = "0x" + "Ab" * 20


def test_a_replacement_pays_at_least_an_eighth_more_or_what_the_network_asks() -> None:
    old = Fees(max_fee_per_gas=800, max_priority_fee_per_gas=80)
    quiet = bumped(old, Fees(max_fee_per_gas=100, max_priority_fee_per_gas=1))
    assert quiet == Fees(max_fee_per_gas=901, max_priority_fee_per_gas=91)  # both > 12.5 % higher
    busy = bumped(old, Fees(max_fee_per_gas=5000, max_priority_fee_per_gas=300))
    assert busy == Fees(max_fee_per_gas=5000, max_priority_fee_per_gas=300)
    tiny = bumped(Fees(0, 0), Fees(0, 0))  # a zero fee still rises (nodes refuse an equal one)
    assert tiny.max_priority_fee_per_gas == 1
    assert tiny.max_fee_per_gas >= tiny.max_priority_fee_per_gas


def test_the_fields_of_a_signed_transaction_are_read_back_exactly() -> None:
    fields = {
        "type": 2,
        "chainId": 47763,
        "nonce": 41,
        "to": "0x" + "11" * 20,
        "value": 0,
        "data": b"\x01\x02\x03",
        "gas": 123_456,
        "maxFeePerGas": 30 * 10**9,
        "maxPriorityFeePerGas": 2 * 10**9,
    }
    raw = bytes(Account.create().sign_transaction(fields).raw_transaction)
    assert decode_fields(raw) == fields


def _event(name: str, *values: object, block: int = 7) -> ChainEvent:
    return ChainEvent(block, "0x" + "cd" * 32, "0x" + "ef" * 20, name, tuple(values))


def test_requests_and_their_outcome_from_the_randomness_events() -> None:
    reason = (
        bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (4).to_bytes(32, "big") + b"nope" + bytes(28)
    )
    new, updates = decode_evm_events(
        [
            _event("RandomnessRequested", 1, CONSUMER, b"\x05" * 32),
            _event("RandomnessFulfilled", 1, CONSUMER, b"\x09" * 32, True, b""),
            _event("RandomnessFulfilled", 2, CONSUMER, b"\x09" * 32, False, reason),
            _event("RandomnessFulfilled", 3, CONSUMER, b"\x09" * 32, False, b"\xde\xad"),
            _event("SignerChanged", CONSUMER, CONSUMER),
        ]
    )
    [request] = new
    assert (request.request_id, request.consumer, request.asked.seed) == (1, CONSUMER.lower(), b"\x05" * 32)
    assert [(u.request_id, u.kind, u.reason) for u in updates] == [
        (1, ChainEventKind.FULFILLED, None),
        (1, ChainEventKind.DELIVERED, None),
        (2, ChainEventKind.FULFILLED, None),
        (2, ChainEventKind.CALLBACK_FAILED, "nope"),  # an Error(string) revert as its message
        (3, ChainEventKind.FULFILLED, None),
        (3, ChainEventKind.CALLBACK_FAILED, "0xdead"),  # anything else as hex
    ]


def test_a_revert_is_named_by_its_custom_errors_selector() -> None:
    errors = CustomErrors("AlreadyFulfilled(uint256)", "BadSignature()")
    already = "0x" + keccak(text="AlreadyFulfilled(uint256)")[:4].hex() + (7).to_bytes(32, "big").hex()
    assert errors.name(already) == "AlreadyFulfilled"
    assert errors.name(already.upper().replace("0X", "0x")) == "AlreadyFulfilled"
    assert errors.name("0x" + keccak(text="BadSignature()")[:4].hex()) == "BadSignature"
    assert errors.name("0x08c379a0") is None  # Error(string): not one of the contract's
    assert errors.name(None) is None
    assert errors.name("") is None
