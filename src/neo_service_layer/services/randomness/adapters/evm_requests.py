"""Randomness for Solidity consumers on an EVM chain (Neo X): read requests, answer them through the enclave.

The EVM contract is ``contracts/evm/RandomnessService.sol``; the fragments of its ABI this module uses are
written below (a test checks them against the compiled ABI). Answering a request:

1. ``RandomnessRequested(requestId, consumer, seed)`` logs of the contract, read with ``eth_getLogs``;
2. the enclave's ``randomness_evm_fulfil`` with those chain facts (chain id, contract, request id,
   consumer, seed) only: it derives the randomness and signs the digest the contract rebuilds;
3. ``fulfill(requestId, randomness, signature)`` sent by the host's sender key (dry run first: a request
   already fulfilled, or an answer the contract refuses, is never sent).

Not wired to a job yet: nothing calls this on a schedule, there is no durable cursor and no retry (see
``docs/neox.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import AsyncWeb3

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.randomness_evm import (
    EvmRandomnessFacts,
    SignedEvmRandomness,
    address_bytes,
)
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, EvmReceipt
from neo_service_layer.kernel.enclave_client.evm_randomness import EvmRandomnessEnclave

_UINT = {"type": "uint256"}
_BYTES32 = {"type": "bytes32"}
#: the parts of RandomnessService's ABI used here
ABI: list[dict[str, Any]] = [
    {
        "type": "event",
        "name": "RandomnessRequested",
        "anonymous": False,
        "inputs": [
            {"name": "requestId", "indexed": True, **_UINT},
            {"name": "consumer", "indexed": True, "type": "address"},
            {"name": "seed", "indexed": False, **_BYTES32},
        ],
    },
    {
        "type": "event",
        "name": "RandomnessFulfilled",
        "anonymous": False,
        "inputs": [
            {"name": "requestId", "indexed": True, **_UINT},
            {"name": "consumer", "indexed": True, "type": "address"},
            {"name": "randomness", "indexed": False, **_BYTES32},
            {"name": "callbackOk", "indexed": False, "type": "bool"},
            {"name": "reason", "indexed": False, "type": "bytes"},
        ],
    },
    {
        "type": "function",
        "name": "fulfill",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "requestId", **_UINT},
            {"name": "randomness", **_BYTES32},
            {"name": "signature", "type": "bytes"},
        ],
        "outputs": [],
    },
]


@dataclass(frozen=True, slots=True)
class EvmRandomnessRequest:
    """One request as its event showed it."""

    request_id: int
    consumer: str
    seed: bytes
    block_number: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class EvmFulfilment:
    """One ``RandomnessFulfilled`` event: whether the consumer's callback ran, and why not."""

    request_id: int
    consumer: str
    randomness: bytes
    callback_ok: bool
    reason: bytes


@dataclass(frozen=True, slots=True)
class EvmRandomnessKeys:
    """The enclave keys of EVM answers: the BLS key (VRF proof, shared with Neo N3) and the secp256k1
    key of purpose ``randomness-evm`` (the contract's ``signer``)."""

    bls_key_id: str
    evm_key_id: str


class EvmRandomnessGateway:
    """The randomness contract at ``address`` on ``chain``."""

    def __init__(self, chain: EvmChain, address: str) -> None:
        self.chain = chain
        self.address = AsyncWeb3.to_checksum_address(address)
        self._contract = chain.contract(self.address, ABI)

    async def requests(self, from_block: int, to_block: int) -> list[EvmRandomnessRequest]:
        event = self._contract.events.RandomnessRequested()
        logs = await self.chain.get_logs(
            {
                "address": self.address,
                "topics": [event.topic],
                "fromBlock": from_block,
                "toBlock": to_block,
            }
        )
        found = []
        for log in logs:
            decoded = event.process_log(log)
            found.append(
                EvmRandomnessRequest(
                    request_id=int(decoded["args"]["requestId"]),
                    consumer=str(decoded["args"]["consumer"]),
                    seed=bytes(decoded["args"]["seed"]),
                    block_number=int(log["blockNumber"]),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                )
            )
        return found

    def fulfilments(self, receipt: EvmReceipt) -> list[EvmFulfilment]:
        """The ``RandomnessFulfilled`` events in a transaction's receipt."""
        event = self._contract.events.RandomnessFulfilled()
        topic = HexBytes(event.topic)
        found = []
        for log in receipt.logs:
            if log["address"] != self.address or not log["topics"] or HexBytes(log["topics"][0]) != topic:
                continue
            args = event.process_log(log)["args"]
            found.append(
                EvmFulfilment(
                    request_id=int(args["requestId"]),
                    consumer=str(args["consumer"]),
                    randomness=bytes(args["randomness"]),
                    callback_ok=bool(args["callbackOk"]),
                    reason=bytes(args["reason"]),
                )
            )
        return found

    def facts(self, request: EvmRandomnessRequest) -> EvmRandomnessFacts:
        """What the enclave is told about a request: chain id, contract, request id, consumer, seed."""
        return EvmRandomnessFacts(
            chain_id=self.chain.chain_id,
            contract=address_bytes(self.address),
            request_id=request.request_id,
            consumer=address_bytes(request.consumer),
            seed=request.seed,
        )

    def fulfill_data(self, request_id: int, answer: SignedEvmRandomness) -> bytes:
        encoded = self._contract.encode_abi("fulfill", args=[request_id, answer.randomness, answer.signature])
        return bytes.fromhex(str(encoded).removeprefix("0x"))

    async def fulfill(self, sender: LocalAccount, request_id: int, answer: SignedEvmRandomness) -> EvmReceipt:
        """Send ``fulfill``; raises ``TransactionReverted`` (never sent) if the contract refuses it."""
        return await self.chain.send(sender, self.address, self.fulfill_data(request_id, answer))


async def answer_requests(
    gateway: EvmRandomnessGateway,
    enclave: EvmRandomnessEnclave,
    keys: EvmRandomnessKeys,
    sender: LocalAccount,
    requests: Sequence[EvmRandomnessRequest],
) -> list[EvmReceipt]:
    """Ask the enclave for the answers to ``requests`` (one call) and send each ``fulfill``."""
    if not requests:
        return []
    answers = await enclave.randomness_evm_fulfil(
        bls_key_id=keys.bls_key_id,
        evm_key_id=keys.evm_key_id,
        items=[gateway.facts(r) for r in requests],
        tenant=PLATFORM_KEY_OWNER,
    )
    return [await gateway.fulfill(sender, r.request_id, a) for r, a in zip(requests, answers, strict=True)]
