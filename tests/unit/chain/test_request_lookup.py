"""A request's state for the API: as stored (with its payloads), else as the contract's ``getRequest``
says, named by the service's contract-state enum; unknown to both is ``NotFound``."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.enclave.wire.oracle import OracleContractState
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.ports.chain import ChainEvent, ContractCall
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.chain.use_cases.request_lookup import UNKNOWN_STATE
from neo_service_layer.services.oracle.adapters.payloads import OraclePayloads
from neo_service_layer.services.oracle.rules import OracleParams
from neo_service_layer.services.oracle.use_cases import fulfilment as oracle
from neo_service_layer.services.oracle.use_cases.requests import OracleRequests
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.rules import RandomnessContractState, RandomnessParams
from neo_service_layer.services.randomness.use_cases import RandomnessRequests, RandomnessStore
from tests.unit.chain.fakes import CONSUMER, CONTRACT, FakeChain, FakeClock, requested


def on_chain(state: int) -> FakeChain:
    """A chain whose contract's ``getRequest`` answers ``[state, ...]``."""
    return FakeChain(read_results={"getRequest": ((state, CONSUMER),)})


async def test_a_stored_request_comes_with_its_status_and_payload(store: RandomnessStore) -> None:
    new, _ = randomness.decode_events([requested(2, 5)])
    await store.apply_block("c", randomness.SERVICE, CONTRACT, 2, None, new, [], FakeClock().now())
    chain = on_chain(1)
    found = await RandomnessRequests(store, chain, contract=CONTRACT).state(5)
    assert (found.contract, found.request_id, found.status) == (CONTRACT, 5, RequestStatus.SEEN.value)
    assert found.stored is not None
    assert found.stored.asked == RandomnessParams(1, new[0].asked.seed)
    assert chain.reads == []  # stored: the contract is not asked


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (RandomnessContractState.PENDING, "pending"),
        (RandomnessContractState.FULFILLED, "fulfilled"),
        (RandomnessContractState.DELIVERED, "delivered"),
        (RandomnessContractState.CALLBACK_FAILED, "callback_failed"),
        (9, UNKNOWN_STATE),
    ],
)
async def test_a_request_not_stored_is_named_by_the_contract_state(
    store: RandomnessStore, state: int, status: str
) -> None:
    chain = on_chain(state)
    found = await RandomnessRequests(store, chain, contract=CONTRACT).state(77)
    assert (found.status, found.stored) == (status, None)
    assert chain.reads == [ContractCall(CONTRACT, "getRequest", (77,))]


async def test_a_request_unknown_to_the_contract_is_not_found(engine: AsyncEngine) -> None:
    store: oracle.OracleStore = SqlRequestStore(engine, OraclePayloads())
    with pytest.raises(NotFound, match="request 8 is unknown to the oracle contract"):
        await OracleRequests(store, on_chain(OracleContractState.NONE), contract=CONTRACT).state(8)
    with pytest.raises(NotFound):
        await OracleRequests(store, FakeChain(), contract=CONTRACT).state(8)  # an empty stack: unknown too


async def test_an_oracle_request_comes_with_its_url_and_filter(engine: AsyncEngine) -> None:
    store: oracle.OracleStore = SqlRequestStore(engine, OraclePayloads())
    event = ChainEvent(3, "0xa", CONTRACT, "OracleRequested", (4, CONSUMER, b"https://x.example/p", b"$.p"))
    new, _ = oracle.decode_events([event])
    await store.apply_block("c", oracle.SERVICE, CONTRACT, 3, None, new, [], FakeClock().now())
    found = await OracleRequests(store, on_chain(OracleContractState.PENDING), contract=CONTRACT).state(4)
    stored: Any = found.stored
    assert (found.status, stored.asked, stored.answer) == (
        "seen",
        OracleParams("https://x.example/p", "$.p"),
        None,
    )
