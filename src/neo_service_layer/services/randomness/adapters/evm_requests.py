"""Randomness for Solidity consumers on an EVM chain (Neo X): read requests, answer them through the enclave.

The EVM contract is ``contracts/evm/RandomnessService.sol``; the fragments of its ABI this module uses are
written below (a test checks them against the compiled ABI). Answering a request:

1. ``RandomnessRequested(requestId, consumer, seed)`` logs of the contract, read with ``eth_getLogs``;
2. the enclave's ``randomness_evm_fulfil`` with those chain facts (chain id, contract, request id,
   consumer, seed) only: it derives the randomness and signs the digest the contract rebuilds;
3. ``fulfill(requestId, randomness, signature)`` sent by the sender's ``EvmSigner`` (the enclave's EVM
   sender key, ``EnclaveEvmSigner``; dry run first: a request already fulfilled, or an answer the
   contract refuses, is never sent).

The worker's job uses the gateway through the kernel's pipeline (``use_cases/evm.py``: durable cursor,
leases, outbox); ``answer_requests`` answers given requests directly (tests and tools).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from hexbytes import HexBytes
from web3 import AsyncWeb3

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.randomness_evm import (
    EvmRandomnessFacts,
    SignedEvmRandomness,
    address_bytes,
)
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, EvmReceipt
from neo_service_layer.kernel.chain.adapters.evm_errors import CustomErrors
from neo_service_layer.kernel.chain.ports.evm_signer import EvmSigner
from neo_service_layer.kernel.enclave_client.evm_randomness import EvmRandomnessEnclave
from neo_service_layer.services.randomness.use_cases.evm import EvmRandomnessKeys

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
        "name": "requestOf",
        "stateMutability": "view",
        "inputs": [{"name": "requestId", **_UINT}],
        "outputs": [
            {"name": "consumer", "type": "address"},
            {"name": "seed", **_BYTES32},
            {"name": "fulfilled", "type": "bool"},
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


#: the contract's custom errors by selector (hex, no prefix)
_ERRORS = CustomErrors(
    "UnknownRequest(uint256)",
    "AlreadyFulfilled(uint256)",
    "BadSignature()",
    "NotEnoughGasForCallback(uint256)",
)


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

    def facts(self, request_id: int, consumer: str, seed: bytes) -> EvmRandomnessFacts:
        """What the enclave is told about a request: chain id, contract, request id, consumer, seed."""
        return EvmRandomnessFacts(
            chain_id=self.chain.chain_id,
            contract=address_bytes(self.address),
            request_id=request_id,
            consumer=address_bytes(AsyncWeb3.to_checksum_address(consumer)),
            seed=seed,
        )

    async def request_of(self, request_id: int) -> tuple[str, bytes, bool] | None:
        """(consumer in lower case, as stored, seed, fulfilled) as the contract holds the request; ``None``
        for an unknown one."""
        data = self._contract.encode_abi("requestOf", args=[request_id])
        raw = await self.chain.read({"to": self.address, "data": HexBytes(data)})
        consumer, seed, fulfilled = decode(["address", "bytes32", "bool"], raw)
        if int(consumer, 16) == 0:
            return None
        return str(consumer).lower(), bytes(seed), bool(fulfilled)

    def revert_name(self, data: str | None) -> str | None:
        """The contract's custom error whose selector starts the revert data, if any."""
        return _ERRORS.name(data)

    def fulfill_data(self, request_id: int, answer: SignedEvmRandomness) -> bytes:
        encoded = self._contract.encode_abi("fulfill", args=[request_id, answer.randomness, answer.signature])
        return bytes.fromhex(str(encoded).removeprefix("0x"))

    async def fulfill(self, sender: EvmSigner, request_id: int, answer: SignedEvmRandomness) -> EvmReceipt:
        """Send ``fulfill``; raises ``TransactionReverted`` (never sent) if the contract refuses it."""
        return await self.chain.send(sender, self.address, self.fulfill_data(request_id, answer))


async def answer_requests(
    gateway: EvmRandomnessGateway,
    enclave: EvmRandomnessEnclave,
    keys: EvmRandomnessKeys,
    sender: EvmSigner,
    requests: Sequence[EvmRandomnessRequest],
) -> list[EvmReceipt]:
    """Ask the enclave for the answers to ``requests`` (one call) and send each ``fulfill``."""
    if not requests:
        return []
    answers = await enclave.randomness_evm_fulfil(
        bls_key_id=keys.bls_key_id,
        evm_key_id=keys.evm_key_id,
        items=[gateway.facts(r.request_id, r.consumer, r.seed) for r in requests],
        tenant=PLATFORM_KEY_OWNER,
    )
    return [await gateway.fulfill(sender, r.request_id, a) for r, a in zip(requests, answers, strict=True)]
