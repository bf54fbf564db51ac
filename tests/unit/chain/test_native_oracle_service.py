"""The native Oracle fulfiller (``services.native_oracle``) over the real SQL chain store (SQLite and
PostgreSQL) with recording fakes for the chain, the enclave and the node: a batch is built once, recorded
and sent; a request no longer stored is marked failed; a not-designated node releases its claims; when
the Oracle role needs several signatures the signatures go to the peers and the leases stay."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.oracle import ResultCode
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.ports.chain import ChainEvent, ChainUnavailable, SignedTransaction
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.services.native_oracle.adapters.neo_filter import neo_filter
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.ports import NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import (
    ORACLE_CONTRACT,
    NativeAnswer,
    NativeParams,
    NativeRequest,
    NativeResult,
    NeoResponseCode,
)
from neo_service_layer.services.native_oracle.use_cases import (
    GONE,
    SERVICE,
    NativeFetcher,
    NativeOracleFulfiller,
    NativeOracleStore,
    decode_events,
)
from neo_service_layer.services.oracle.use_cases.fulfilment import OracleKey
from tests.unit.chain.fakes import FakeChain, FakeClock, FakeEnclave, RecordingObserver

URL = "https://example.org/price"
OURS = b"\x02" + b"\x11" * 32
OTHER = b"\x03" + b"\x22" * 32


def stored(request_id: int, url: str = URL, filter_: str | None = "$.price") -> NativeRequest:
    return NativeRequest(f"0x{request_id:064x}", 10**8, url, filter_, "0x" + "33" * 20, "cb", b"")


@pytest.fixture
def store(engine: AsyncEngine) -> NativeOracleStore:
    """The pipeline's store as the native Oracle node uses it (``native_oracle_requests``)."""
    return SqlRequestStore(engine, NativeOraclePayloads())


class FakeNode:
    """The ``NativeOracleChain`` port: requests in ``pending``; records what it built and submitted."""

    def __init__(self, nodes: tuple[bytes, ...] = (OURS,)) -> None:
        self.nodes = nodes
        self.pending: dict[int, NativeRequest] = {}
        self.built: list[list[NativeAnswer]] = []
        self.submitted: list[list[NativeAnswer]] = []
        self.submit_error: Exception | None = None

    @property
    def public_key(self) -> bytes:
        return OURS

    async def pending_request(self, request_id: int) -> NativeRequest | None:
        return self.pending.get(request_id)

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        return self.nodes

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        return len(nodes) == 1

    async def build_responses(
        self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]
    ) -> list[SignedTransaction]:
        self.built.append(list(answers))
        return [
            SignedTransaction(f"0x{a.request_id:064x}", b"response-%d" % a.request_id, 100, 5, 7)
            for a in answers
        ]

    async def submit_responses(self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]) -> int:
        if self.submit_error is not None:
            raise self.submit_error
        self.submitted.append(list(answers))
        return 1


class World:
    def __init__(self, store: NativeOracleStore, node: FakeNode | None = None) -> None:
        self.store = store
        self.chain = FakeChain(head=1)
        self.node = node or FakeNode()
        self.enclave = FakeEnclave()
        self.enclave.default_result = b'{"price": 42.17}'
        self.clock = FakeClock()
        self.observer = RecordingObserver()
        self.fulfiller = NativeOracleFulfiller(
            self.chain,
            self.node,
            store,
            NativeFetcher(lambda: self.enclave, OracleKey("oracle-key", b"\x02" * 33), neo_filter),
            self.clock,
            self.observer,  # type: ignore[arg-type]
            worker_id="w1",
        )

    async def request(self, *ids: int, url: str = URL) -> None:
        events = [
            ChainEvent(
                1, f"0xreq{i}", ORACLE_CONTRACT, "OracleRequest", (i, b"\x33" * 20, url.encode(), b"$.price")
            )
            for i in ids
        ]
        new, _ = decode_events(events)
        await self.store.apply_block("native", SERVICE, ORACLE_CONTRACT, 1, None, new, [], self.clock.now())
        for i in ids:
            self.node.pending[i] = stored(i, url)

    async def status(self, request_id: int) -> RequestStatus:
        found = await self.store.get(SERVICE, ORACLE_CONTRACT, request_id)
        assert found is not None
        return found.status


async def test_a_batch_is_fetched_once_built_once_recorded_and_sent(store: NativeOracleStore) -> None:
    w = World(store)
    await w.request(1, 2, 3)
    assert await w.fulfiller.run_once() == 3
    assert [f.request_id for f in w.enclave.fetches] == [1]  # one URL: one fetch for the batch
    assert [[a.request_id for a in batch] for batch in w.node.built] == [[1, 2, 3]]
    assert {a.result for a in w.node.built[0]} == {b"[42.17]"}
    assert w.chain.sent == [b"response-1", b"response-2", b"response-3"]
    assert w.observer.transactions == ["accepted"] * 3
    assert [await w.status(i) for i in (1, 2, 3)] == [RequestStatus.FULFILLING] * 3
    assert {e.send_count for e in await store.pending_outbox(SERVICE)} == {1}
    row = await store.get(SERVICE, ORACLE_CONTRACT, 2)
    assert row is not None
    assert row.asked == NativeParams(URL, "$.price")  # what the event asked, in the node's own table
    assert row.answer == NativeResult(NeoResponseCode.SUCCESS, b"[42.17]")  # recorded with the outbox
    assert await w.fulfiller.run_once() == 0


async def test_a_failed_fetch_is_answered_with_neo_s_code_and_no_result(store: NativeOracleStore) -> None:
    w = World(store)
    w.enclave.answers[URL] = (ResultCode.NOT_FOUND, b"")
    await w.request(1)
    await w.fulfiller.run_once()
    (answer,) = w.node.built[0]
    assert (answer.code, answer.result) == (NeoResponseCode.NOT_FOUND, b"")
    row = await store.get(SERVICE, ORACLE_CONTRACT, 1)
    assert row is not None
    assert row.answer == NativeResult(NeoResponseCode.NOT_FOUND, b"")


async def test_a_request_no_longer_stored_is_marked_failed_and_never_built(store: NativeOracleStore) -> None:
    w = World(store)
    await w.request(1, 2)
    del w.node.pending[2]  # answered by another node, or its response faulted
    assert await w.fulfiller.run_once() == 2
    assert [[a.request_id for a in batch] for batch in w.node.built] == [[1]]
    failed = await store.get(SERVICE, ORACLE_CONTRACT, 2)
    assert failed is not None
    assert (failed.status, failed.failure_reason) == (RequestStatus.FAILED, GONE)
    assert w.observer.outcomes == ["failed"]


async def test_a_node_not_designated_releases_its_claims(store: NativeOracleStore) -> None:
    w = World(store, FakeNode(nodes=(OTHER,)))
    await w.request(1)
    with pytest.raises(NotAnOracleNode):
        await w.fulfiller.run_once()
    assert w.node.built == []
    assert w.observer.transactions == ["not_designated"]
    again = await store.claim(SERVICE, ORACLE_CONTRACT, "w2", w.clock.now(), w.clock.now(), 10)
    assert [r.request_id for r in again] == [1]  # released: another worker can take it at once


async def test_with_several_signatures_needed_the_signatures_go_to_the_peers_and_the_leases_stay(
    store: NativeOracleStore,
) -> None:
    w = World(store, FakeNode(nodes=(OURS, OTHER)))
    await w.request(1, 2)
    assert await w.fulfiller.run_once() == 2
    assert [[a.request_id for a in batch] for batch in w.node.submitted] == [[1, 2]]
    assert w.node.built == []
    assert w.chain.sent == []  # another node sends once it holds enough signatures
    assert await store.pending_outbox(SERVICE) == []
    assert w.observer.transactions == ["submitted"]
    assert [await w.status(i) for i in (1, 2)] == [RequestStatus.SEEN] * 2
    assert await w.fulfiller.run_once() == 0  # leased: not submitted again before the lease runs out
    w.clock.advance(31)
    assert await w.fulfiller.run_once() == 2  # still unanswered after the lease: submitted again
    assert len(w.node.submitted) == 2


async def test_when_no_peer_takes_the_signatures_the_requests_are_released(store: NativeOracleStore) -> None:
    w = World(store, FakeNode(nodes=(OURS, OTHER)))
    w.node.submit_error = ChainUnavailable("no oracle peer took the signatures")
    await w.request(1)
    with pytest.raises(ChainUnavailable):
        await w.fulfiller.run_once()
    again = await store.claim(SERVICE, ORACLE_CONTRACT, "w2", w.clock.now(), w.clock.now(), 10)
    assert [r.request_id for r in again] == [1]
