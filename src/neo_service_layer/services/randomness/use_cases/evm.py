"""Randomness for Solidity consumers (Neo X): the EVM contract's events and the answers to its requests.

The kernel's pipeline carries the requests as on Neo N3 (watcher with a durable cursor, leases, the
outbox in the transaction that moves them); what is EVM-specific is here:

- ``decode_evm_events``: ``RandomnessRequested(requestId, consumer, seed)`` is a new request,
  ``RandomnessFulfilled(requestId, consumer, randomness, callbackOk, reason)`` fulfils it and, in the
  same event, delivers it or records the consumer's revert (the EVM contract calls the consumer inside
  ``fulfill``; a revert there does not undo the fulfilment);
- ``EvmRandomnessFulfiller``: the enclave answers claimed requests from the chain facts
  (``randomness_evm_fulfil``: chain id, contract, request id, consumer, seed), in batches; the kernel's
  ``EvmFulfiller`` sends one ``fulfill`` each through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.randomness_evm import EvmRandomnessFacts, SignedEvmRandomness
from neo_service_layer.kernel.chain.ports.chain import ChainEvent
from neo_service_layer.kernel.chain.ports.evm import EvmSubmitter
from neo_service_layer.kernel.chain.rules import (
    NewRequest,
    RequestUpdate,
)
from neo_service_layer.kernel.chain.use_cases.evm_fulfilment import EvmFulfiller, fulfilled_updates
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.evm_randomness import EvmRandomnessEnclave
from neo_service_layer.services.randomness.rules import RandomnessParams, RandomnessResult
from neo_service_layer.services.randomness.use_cases import ENCLAVE_BATCH, RandomnessRequest, RandomnessStore

#: the service name of EVM randomness requests in the pipeline's tables (``chain_requests.service``)
EVM_SERVICE = "randomness-evm"


@dataclass(frozen=True, slots=True)
class EvmRandomnessKeys:
    """The BLS key (VRF proof, shared with Neo N3) and the secp256k1 key the contract trusts."""

    bls_key_id: str
    evm_key_id: str


class EvmRandomnessContract(Protocol):
    """The contract's encodings (``adapters/evm_requests.EvmRandomnessGateway``)."""

    @property
    def address(self) -> str: ...

    def facts(self, request_id: int, consumer: str, seed: bytes) -> EvmRandomnessFacts: ...

    def fulfill_data(self, request_id: int, answer: SignedEvmRandomness) -> bytes: ...

    def revert_name(self, data: str | None) -> str | None:
        """The contract's custom error a revert carries (``AlreadyFulfilled``...), if it is one."""
        ...


def decode_evm_events(
    events: Sequence[ChainEvent],
) -> tuple[list[NewRequest[RandomnessParams]], list[RequestUpdate]]:
    new: list[NewRequest[RandomnessParams]] = []
    updates: list[RequestUpdate] = []
    for event in events:
        values = event.values
        if event.name == "RandomnessRequested" and len(values) == 3:
            request_id, consumer, seed = values
            new.append(
                NewRequest(
                    int(request_id),
                    str(consumer).lower(),
                    RandomnessParams(1, bytes(seed)),
                    event.block,
                    event.tx_hash,
                )
            )
        elif event.name == "RandomnessFulfilled" and len(values) == 5:
            updates.extend(fulfilled_updates(int(values[0]), bool(values[3]), bytes(values[4]), event))
    return new, updates


class EvmRandomnessFulfiller(EvmFulfiller[RandomnessParams, RandomnessResult]):
    """Answers the EVM randomness contract's waiting requests (one ``fulfill`` transaction each)."""

    def __init__(
        self,
        store: RandomnessStore,
        enclave: EvmRandomnessEnclave,
        contract: EvmRandomnessContract,
        sender: EvmSubmitter,
        clock: Clock,
        *,
        keys: EvmRandomnessKeys,
        worker_id: str,
        lease_seconds: float,
        batch: int = 50,
    ) -> None:
        super().__init__(
            store,
            sender,
            clock,
            service=EVM_SERVICE,
            contract=contract.address,
            worker_id=worker_id,
            lease_seconds=lease_seconds,
            batch=batch,
        )
        self._enclave = enclave
        self._gateway = contract
        self._keys = keys

    async def answer(self, requests: Sequence[RandomnessRequest]) -> list[tuple[RandomnessResult, bytes]]:
        """The enclave's answers from the chain facts (in batches), and each ``fulfill`` call."""
        answers: list[SignedEvmRandomness] = []
        for start in range(0, len(requests), ENCLAVE_BATCH):
            answers.extend(
                await self._enclave.randomness_evm_fulfil(
                    bls_key_id=self._keys.bls_key_id,
                    evm_key_id=self._keys.evm_key_id,
                    items=[
                        self._gateway.facts(r.request_id, r.consumer, r.asked.seed)
                        for r in requests[start : start + ENCLAVE_BATCH]
                    ],
                    tenant=PLATFORM_KEY_OWNER,
                )
            )
        return [
            (RandomnessResult(a.randomness, a.proof), self._gateway.fulfill_data(r.request_id, a))
            for r, a in zip(requests, answers, strict=True)
        ]

    def revert_name(self, data: str | None) -> str | None:
        return self._gateway.revert_name(data)
