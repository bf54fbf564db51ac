"""Test helpers for the N3 message gateway on a real neo-go privnet: deployment, a local secp256k1 key
standing in for the enclave (64-byte r || s over Keccak-256 of the V1 preimage), and the gateway's calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import coincurve
from eth_utils.crypto import keccak
from neo3.core import types

from neo_service_layer.enclave.wire.crosschain import XFacts, preimage
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from tests.contracts.contract_support import Chain, artifact

#: the EVM chain the tests' messages come from, its gateway and a sender there
EVM_CHAIN = 31337
EVM_GATEWAY = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
EVM_SENDER = bytes.fromhex("70997970c51812dc3a010c7d01b50e0d17dc79c8")


class LocalCrossChainKey:
    """A secp256k1 key in this process, signing as ``crosschain_sign`` does for an N3 destination."""

    def __init__(self) -> None:
        self._key = coincurve.PrivateKey()

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.public_key.format(compressed=True))

    def sign(self, facts: XFacts) -> bytes:
        message = preimage(facts, keccak(facts.payload))
        return bytes(self._key.sign_recoverable(message, hasher=keccak))[:64]


def vm_bytes(script_hash: types.UInt160) -> bytes:
    """A script hash's 20 bytes as the NeoVM holds them."""
    return bytes(script_hash.to_array())


@dataclass
class N3Gateway:
    chain: Chain
    hash: types.UInt160
    key: LocalCrossChainKey
    guard: deploy.AccountInvoker

    def deliver_args(self, facts: XFacts, signature: bytes | None = None) -> list[Any]:
        return [
            facts.src_chain,
            facts.src_contract,
            facts.nonce,
            facts.sender,
            types.UInt160(facts.receiver),
            facts.value,
            facts.payload,
            signature if signature is not None else self.key.sign(facts),
        ]

    def receipt_args(self, facts: XFacts, signature: bytes | None = None) -> list[Any]:
        return [
            facts.src_chain,
            facts.src_contract,
            facts.nonce,
            facts.sender,
            types.UInt160(facts.receiver),
            facts.value,
            facts.payload[0] == 1,
            facts.payload[1:],
            signature if signature is not None else self.key.sign(facts),
        ]


async def deploy_gateway(chain: Chain, guard: deploy.AccountInvoker, key: LocalCrossChainKey) -> N3Gateway:
    nef, manifest = artifact("message_gateway")
    data = [chain.owner.script_hash, guard.script_hash, chain.operator.script_hash, key.public_key]
    contract = await deploy.deploy_contract(chain.committee, nef, manifest, data)
    return N3Gateway(chain, contract, key, guard)


async def deploy_example(
    chain: Chain, name: str, data: Any, deployer: deploy.AccountInvoker | None = None
) -> types.UInt160:
    """Deploy an example contract (by the committee unless told: a deployer deploys one NEF once)."""
    nef, manifest = artifact(name)
    return await deploy.deploy_contract(deployer or chain.committee, nef, manifest, data)
