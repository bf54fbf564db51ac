"""Cross-chain message formats (``wire/crosschain.py``), the gateway event decoding the enclave does
(``crosschain_events.py``) and its settings: byte layouts, bounds, and refusals of malformed input.
(The digest layout is checked against both contracts in tests/integration/crosschain.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from neo_service_layer.enclave.crosschain_events import (
    EXECUTED_TOPIC,
    SENT_TOPIC,
    evm_executed,
    evm_sent,
    n3_executed,
    n3_sent,
)
from neo_service_layer.enclave.evm_rpc import evm_node
from neo_service_layer.enclave.settings import EnclaveSettings
from neo_service_layer.enclave.wire.crosschain import (
    N3_CHAIN_BASE,
    SignedXMessage,
    SourcePointer,
    XFacts,
    XKind,
    is_n3_chain,
    n3_chain_id,
    preimage,
    receipt_payload,
    split_receipt_payload,
)
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import PolicyDenied

GATEWAY = bytes(range(1, 21))
SENDER = bytes(range(21, 41))
RECEIVER = bytes(range(41, 61))


def facts(**changes: object) -> XFacts:
    values: dict[str, object] = {
        "kind": XKind.MESSAGE,
        "src_chain": 31337,
        "dest_chain": n3_chain_id(42),
        "src_contract": GATEWAY,
        "nonce": 7,
        "sender": SENDER,
        "receiver": RECEIVER,
        "value": 200_000,
        "payload": b"hello",
    }
    values.update(changes)
    return XFacts(**values)  # type: ignore[arg-type]


def test_the_preimage_has_fixed_widths_in_a_fixed_order() -> None:
    f = facts()
    payload_hash = keccak(b"hello")
    pre = preimage(f, payload_hash)
    assert pre == (
        b"NSL-XMSG-V1"
        + b"\x01"
        + (31337).to_bytes(8, "big")
        + (N3_CHAIN_BASE + 42).to_bytes(8, "big")
        + GATEWAY
        + (7).to_bytes(8, "big")
        + SENDER
        + RECEIVER
        + (200_000).to_bytes(8, "big")
        + payload_hash
    )
    assert len(pre) == 11 + 1 + 8 + 8 + 20 + 8 + 20 + 20 + 8 + 32
    receipt = facts(kind=XKind.RECEIPT, payload=receipt_payload(True, b"ok"))
    assert preimage(receipt, keccak(receipt.payload))[11] == 2
    assert split_receipt_payload(receipt.payload) == (True, b"ok")


def test_chain_ids_of_n3_never_meet_evm_chain_ids() -> None:
    assert n3_chain_id(42) == 2**63 + 42
    assert is_n3_chain(n3_chain_id(0xFFFFFFFF))
    assert not is_n3_chain(47763)
    for magic in (0, 2**32):
        with pytest.raises(InvalidInput):
            n3_chain_id(magic)


@pytest.mark.parametrize(
    "changes",
    [
        {"src_contract": bytes(19)},
        {"sender": bytes(21)},
        {"receiver": b""},
        {"nonce": 0},
        {"src_chain": 2**64},
        {"dest_chain": 31337},
        {"value": -1},
        {"src_chain": True},
    ],
)
def test_facts_out_of_their_widths_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        facts(**changes)


def test_receipt_results_are_bounded() -> None:
    assert receipt_payload(False, b"x" * 256)[0] == 0
    with pytest.raises(InvalidInput):
        receipt_payload(True, b"x" * 257)
    with pytest.raises(InvalidInput):
        split_receipt_payload(b"\x02")


def test_pointers_and_answers_cross_the_wire() -> None:
    pointer = SourcePointer(XKind.RECEIPT, n3_chain_id(42), "0x" + "AB" * 32, 3, 31337)
    assert pointer.to_wire("k1") == {
        "key_id": "k1",
        "kind": "receipt",
        "chain_id": n3_chain_id(42),
        "tx_hash": "0x" + "ab" * 32,
        "nonce": 3,
        "peer_chain": 31337,
    }
    for bad in ("ab" * 32, "0x" + "ab" * 31, "0x" + "zz" * 32):
        with pytest.raises(InvalidInput):
            SourcePointer(XKind.MESSAGE, 1, bad, 1)
    with pytest.raises(InvalidInput):
        SourcePointer(XKind.RECEIPT, 1, "0x" + "ab" * 32, 1)  # a receipt names the peer chain
    signed = SignedXMessage(facts(), bytes(32), bytes(65))
    assert SignedXMessage.from_wire(signed.to_wire()) == signed
    with pytest.raises(InvalidInput):
        SignedXMessage.from_wire({"kind": "message"})


def _log(address: bytes, topics: list[bytes], data: bytes) -> dict[str, object]:
    return {
        "address": "0x" + address.hex(),
        "topics": ["0x" + t.hex() for t in topics],
        "data": "0x" + data.hex(),
    }


def test_evm_events_are_decoded_from_the_gateway_only() -> None:
    data = encode(
        ["uint256", "bytes", "bytes", "uint256", "uint256"], [n3_chain_id(42), RECEIVER, b"hi", 9, 10]
    )
    topics = [SENT_TOPIC, (5).to_bytes(32, "big"), bytes(12) + SENDER]
    receipt = {"status": "0x1", "logs": [_log(GATEWAY, topics, data), _log(RECEIVER, topics, data)]}
    (sent,) = evm_sent(receipt, GATEWAY)
    assert (sent.nonce, sent.sender, sent.dest_chain, sent.receiver, sent.payload, sent.gas_limit) == (
        5,
        SENDER,
        n3_chain_id(42),
        RECEIVER,
        b"hi",
        9,
    )
    assert evm_sent({**receipt, "logs": [{**receipt["logs"][0], "removed": True}]}, GATEWAY) == []  # type: ignore[dict-item]
    with pytest.raises(PolicyDenied, match="reverted"):
        evm_sent({**receipt, "status": "0x0"}, GATEWAY)
    with pytest.raises(PolicyDenied):
        evm_sent({"status": "0x1", "logs": [_log(GATEWAY, topics, data[:100])]}, GATEWAY)
    executed_data = encode(
        ["bytes20", "bytes20", "uint256", "bool", "bytes"], [GATEWAY, SENDER, 2, False, b"why"]
    )
    executed_topics = [
        EXECUTED_TOPIC,
        (31337).to_bytes(32, "big"),
        (5).to_bytes(32, "big"),
        bytes(12) + RECEIVER,
    ]
    (executed,) = evm_executed(
        {"status": "0x1", "logs": [_log(GATEWAY, executed_topics, executed_data)]}, GATEWAY
    )
    assert (executed.src_chain, executed.nonce, executed.src_contract, executed.sender) == (
        31337,
        5,
        GATEWAY,
        SENDER,
    )
    assert (executed.receiver, executed.attempt, executed.ok, executed.result) == (RECEIVER, 2, False, b"why")


def _item(value: object) -> dict[str, object]:
    import base64

    if isinstance(value, bool):
        return {"type": "Boolean", "value": value}
    if isinstance(value, int):
        return {"type": "Integer", "value": str(value)}
    assert isinstance(value, bytes)
    return {"type": "ByteString", "value": base64.b64encode(value).decode()}


def _n3_log(state: str, name: str, values: list[object], contract: bytes = GATEWAY) -> dict[str, object]:
    note = {
        "contract": "0x" + contract[::-1].hex(),
        "eventname": name,
        "state": {"type": "Array", "value": [_item(v) for v in values]},
    }
    return {"executions": [{"trigger": "Application", "vmstate": state, "notifications": [note]}]}


def test_n3_events_count_only_in_a_halted_execution_of_the_gateway() -> None:
    values: list[object] = [3, SENDER, 31337, RECEIVER, b"hi", 100, 200]
    (sent,) = n3_sent(_n3_log("HALT", "MessageSent", values), GATEWAY)
    assert (sent.nonce, sent.sender, sent.dest_chain, sent.receiver, sent.payload, sent.gas_limit) == (
        3,
        SENDER,
        31337,
        RECEIVER,
        b"hi",
        100,
    )
    assert n3_sent(_n3_log("HALT", "MessageSent", values, contract=RECEIVER), GATEWAY) == []
    with pytest.raises(PolicyDenied, match="FAULTed"):
        n3_sent(_n3_log("FAULT", "MessageSent", values), GATEWAY)
    with pytest.raises(PolicyDenied, match="wrong fields"):
        n3_sent(_n3_log("HALT", "MessageSent", values[:6]), GATEWAY)
    executed = [31337, 3, GATEWAY, SENDER, RECEIVER, 1, True, b"echo"]
    (event,) = n3_executed(_n3_log("HALT", "MessageExecuted", executed), GATEWAY)
    assert (event.ok, event.result, event.attempt) == (True, b"echo", 1)


def test_settings_take_gateways_as_0x_hex_and_the_local_neo_x(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NSL_XMSG_EVM_GATEWAY", "NSL_XMSG_N3_GATEWAY", "NSL_EVM_RPC_URLS", "NSL_EVM_CHAIN_ID"):
        monkeypatch.delenv(name, raising=False)
    settings = EnclaveSettings(
        xmsg_evm_gateway="0x" + "AB" * 20, xmsg_n3_gateway=" ", evm_rpc_urls="http://a,http://b"
    )
    assert settings.xmsg_evm_gateway == "0x" + "ab" * 20
    assert settings.xmsg_n3_gateway is None
    assert settings.evm_rpc_urls == ["http://a", "http://b"]
    with pytest.raises(ValueError, match="40 hex digits"):
        EnclaveSettings(xmsg_n3_gateway="0x1234")
    with pytest.raises(ValueError, match="less than 9223372036854775808"):
        EnclaveSettings(evm_chain_id=2**63)  # an N3 id is never an EVM chain id
    assert evm_node(["http://x"], 5, tmp_path) == (["http://x"], 5)
    assert evm_node([], None, tmp_path) == ([], None)
    (tmp_path / "network.json").write_text(json.dumps({"neox": {"chain_id": 31337, "rpc_url": "http://n"}}))
    assert evm_node([], None, tmp_path) == (["http://n"], 31337)
