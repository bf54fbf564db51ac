"""Web data for Solidity consumers (Neo X): the EVM oracle contract's events and the answers to them.

The kernel's pipeline carries the requests (watcher, leases, outbox: ``EvmFulfiller``); here:

- ``decode_evm_events``: ``OracleRequested(requestId, consumer, url, filter)`` is a new request;
  ``OracleFulfilled(requestId, consumer, code, timestamp, callbackOk, reason)`` fulfils it and delivers
  it or records the consumer's revert;
- ``EvmOracleFulfiller``: the enclave fetches each claimed request's URL behind its guard, filters and
  signs (``oracle_evm_fetch``, a few at a time). The platform fetches as itself with no secrets; a URL
  that cannot be fetched as it is (malformed, or an ``nsl://template/`` URL: tenant templates serve N3
  consumers only) gets a refusal the enclave signs (``FORBIDDEN``, empty result), so no request stays
  pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.oracle import FetchSpec, ResultCode, is_template_url
from neo_service_layer.enclave.wire.oracle_evm import EvmOracleFacts, SignedEvmOracleAnswer
from neo_service_layer.kernel.chain.ports.chain import ChainEvent
from neo_service_layer.kernel.chain.ports.evm import EvmSubmitter
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import ChainRequest, NewRequest, RequestUpdate
from neo_service_layer.kernel.chain.use_cases.evm_fulfilment import EvmFulfiller, fulfilled_updates
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.evm_oracle import EvmOracleEnclave
from neo_service_layer.services.oracle.rules import OracleParams, OracleResult

#: the service name of EVM oracle requests in the pipeline's tables (``chain_requests.service``)
EVM_SERVICE = "oracle-evm"


class EvmOracleContract(Protocol):
    """The contract's encodings (``adapters/evm_requests.EvmOracleGateway``)."""

    @property
    def address(self) -> str: ...

    def facts(self, request_id: int, consumer: str, url: str, filter_: str) -> EvmOracleFacts: ...

    def fulfill_data(self, answer: SignedEvmOracleAnswer) -> bytes: ...

    def revert_name(self, data: str | None) -> str | None: ...


def decode_evm_events(
    events: Sequence[ChainEvent],
) -> tuple[list[NewRequest[OracleParams]], list[RequestUpdate]]:
    new: list[NewRequest[OracleParams]] = []
    updates: list[RequestUpdate] = []
    for event in events:
        values = event.values
        if event.name == "OracleRequested" and len(values) == 4:
            request_id, consumer, url, filter_ = values
            asked = OracleParams(str(url), str(filter_))
            new.append(NewRequest(int(request_id), str(consumer).lower(), asked, event.block, event.tx_hash))
        elif event.name == "OracleFulfilled" and len(values) == 6:
            updates.extend(fulfilled_updates(int(values[0]), bool(values[4]), bytes(values[5]), event))
    return new, updates


class EvmOracleFulfiller(EvmFulfiller[OracleParams, OracleResult]):
    """Answers the EVM oracle contract's waiting requests (one ``fulfill`` transaction each)."""

    def __init__(
        self,
        store: RequestStore[OracleParams, OracleResult],
        enclave: EvmOracleEnclave,
        contract: EvmOracleContract,
        sender: EvmSubmitter,
        clock: Clock,
        *,
        key_id: str,
        worker_id: str,
        lease_seconds: float,
        fetch_concurrency: int,
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
        self._key_id = key_id
        self._fetching = asyncio.Semaphore(fetch_concurrency)

    async def answer(
        self, requests: Sequence[ChainRequest[OracleParams, OracleResult]]
    ) -> list[tuple[OracleResult, bytes]]:
        answers = await asyncio.gather(*(self._answer_one(r) for r in requests))
        return [
            (OracleResult(int(a.code), a.result, a.timestamp_ms), self._gateway.fulfill_data(a))
            for a in answers
        ]

    async def _answer_one(self, request: ChainRequest[OracleParams, OracleResult]) -> SignedEvmOracleAnswer:
        url, filter_ = request.asked.url, request.asked.filter
        facts = self._gateway.facts(request.request_id, request.consumer, url, filter_)
        async with self._fetching:
            if is_template_url(url):
                return await self._enclave.oracle_evm_refuse(facts, ResultCode.FORBIDDEN, key_id=self._key_id)
            try:
                spec = FetchSpec(url=url, filter=filter_).check()
            except InvalidInput:
                return await self._enclave.oracle_evm_refuse(facts, ResultCode.FORBIDDEN, key_id=self._key_id)
            return await self._enclave.oracle_evm_fetch(
                facts, spec, tenant=PLATFORM_KEY_OWNER, key_id=self._key_id
            )

    def revert_name(self, data: str | None) -> str | None:
        return self._gateway.revert_name(data)


def _result(answer: SignedEvmOracleAnswer) -> OracleResult:
    return OracleResult(int(answer.code), answer.result, answer.timestamp_ms)
