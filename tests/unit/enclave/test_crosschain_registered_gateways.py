"""``crosschain_sign`` without configured gateways (``nsl run``): the enclave takes only the contract the
cli registered (sealed) as service ``crosschain`` for the chain, never one the caller names. The worker
cannot register one (``allow_evm_contracts`` is the cli's only: tests/integration/enclave/
test_enclave_evm_sender_process.py), so a process with the worker's token cannot have an event of a
contract of its choosing signed."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode

from neo_service_layer.enclave.crosschain import CrossChainSignOp, CrossChainSources
from neo_service_layer.enclave.crosschain_events import SENT_TOPIC
from neo_service_layer.enclave.evm_tx_signing import EvmTransactionSigning
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.wire.crosschain import SignedXMessage, n3_chain_id
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, KeyPolicy, PolicyDenied, Purpose
from neo_service_layer.enclave.wire.protocol import Args

EVM_ID, MAGIC = 31337, 42
REGISTERED, OTHER = bytes(range(1, 21)), bytes(range(101, 121))
N3_GATEWAY = bytes(range(21, 41))
TX = "0x" + "ab" * 32


class EvmNode:
    """One receipt: a ``MessageSent`` of nonce 1 emitted by ``emitter``."""

    def __init__(self, emitter: bytes) -> None:
        self.emitter = emitter

    @property
    def chain_id(self) -> int | None:
        return EVM_ID

    async def block_number(self) -> int:
        return 10

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        data = encode(
            ["uint256", "bytes", "bytes", "uint256", "uint256"], [n3_chain_id(MAGIC), bytes(20), b"hi", 9, 10]
        )
        topics = [SENT_TOPIC, (1).to_bytes(32, "big"), bytes(12) + bytes(range(41, 61))]
        log = {
            "address": "0x" + self.emitter.hex(),
            "topics": ["0x" + t.hex() for t in topics],
            "data": "0x" + data.hex(),
        }
        return {"status": "0x1", "blockNumber": "0x5", "logs": [log]}


class N3Node:
    async def version(self) -> tuple[int, int]:
        return MAGIC, 1000

    async def height(self) -> int:
        return 10

    async def transaction_height(self, tx_hash: str) -> int | None:
        return None

    async def application_log(self, tx_hash: str) -> dict[str, Any] | None:
        return None


def _op(keystore: KeyStore, registry: EvmTransactionSigning, emitter: bytes) -> CrossChainSignOp:
    sources = CrossChainSources(EvmNode(emitter), N3Node(), evm_gateway=None, n3_gateway=N3_GATEWAY)  # type: ignore[arg-type]
    return CrossChainSignOp(
        keystore,
        sources,
        lambda is_evm, chain: registry.registered(chain).get("crosschain") if is_evm else None,
    )


@pytest.fixture
def key_id(keystore: KeyStore) -> str:
    return keystore.create(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.CROSSCHAIN])
    ).info.key_id


async def _sign(op: CrossChainSignOp, key_id: str) -> SignedXMessage:
    args = Args({"key_id": key_id, "kind": "message", "chain_id": EVM_ID, "tx_hash": TX, "nonce": 1})
    return SignedXMessage.from_wire(await op(args))


async def test_nothing_is_signed_for_a_chain_without_a_registered_gateway(
    sealer: Sealer, keystore: KeyStore, key_id: str
) -> None:
    registry = EvmTransactionSigning(sealer, keystore, None)
    with pytest.raises(PolicyDenied, match="no gateway registered"):
        await _sign(_op(keystore, registry, REGISTERED), key_id)


async def test_only_the_cli_registered_gateways_events_are_signed(
    sealer: Sealer, keystore: KeyStore, key_id: str
) -> None:
    registry = EvmTransactionSigning(sealer, keystore, None)
    registry.allow_evm_contracts(
        Args({"chain_id": EVM_ID, "contracts": {"crosschain": "0x" + REGISTERED.hex()}})
    )
    signed = await _sign(_op(keystore, registry, REGISTERED), key_id)
    assert (signed.facts.src_contract, signed.facts.src_chain, signed.facts.nonce) == (REGISTERED, EVM_ID, 1)
    # the same event emitted by any other contract (one a host deployed and pointed at) is refused
    with pytest.raises(PolicyDenied, match="registered gateway"):
        await _sign(_op(keystore, registry, OTHER), key_id)
    # a contract registered for another service is no gateway
    other = EvmTransactionSigning(sealer, keystore, None)
    other.allow_evm_contracts(Args({"chain_id": EVM_ID, "contracts": {"randomness": "0x" + OTHER.hex()}}))
    with pytest.raises(PolicyDenied, match="no gateway registered"):
        await _sign(_op(keystore, other, OTHER), key_id)
