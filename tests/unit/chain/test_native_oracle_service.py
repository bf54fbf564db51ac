"""The native Oracle fulfiller (``services.native_oracle``) over the real SQL chain store (SQLite and
PostgreSQL) with recording fakes for the chain and the node: what the enclave signed is recorded and sent
as it is; a request the enclave finds gone or refuses is marked failed; a not-designated node releases its
claims; with several designated nodes the signatures go to the peers and the leases stay; a request whose
responses the chain never takes is answered at most ``max_responses`` times, then failed with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.enclave.wire.native_oracle import NativeResponse, Outcome
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.ports.chain import ChainEvent, ChainUnavailable, SendOutcome
from neo_service_layer.kernel.chain.rules import OutboxAction, RequestStatus
from neo_service_layer.kernel.chain.use_cases.outbox import OutboxRelay
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.ports import NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import (
    ORACLE_CONTRACT,
    NativeParams,
    NativeResult,
    NeoResponseCode,
)
from neo_service_layer.services.native_oracle.use_cases import (
    GONE,
    SERVICE,
    NativeOracleFulfiller,
    NativeOracleStore,
    decode_events,
    gave_up,
)
from tests.unit.chain.fakes import FakeChain, FakeClock, RecordingObserver

URL = "https://example.org/price"
OURS = b"\x02" + b"\x11" * 32
OTHER = b"\x03" + b"\x22" * 32


@pytest.fixture
def store(engine: AsyncEngine) -> NativeOracleStore:
    """The pipeline's store as the native Oracle node uses it (``native_oracle_requests``)."""
    return SqlRequestStore(engine, NativeOraclePayloads())


class FakeNode:
    """The ``NativeOracleChain`` port: the enclave's answers from ``answers`` (a request id missing there
    is ``GONE``), ``refused`` (id -> reason); records every ``respond`` and ``submit``."""

    def __init__(self, nodes: tuple[bytes, ...] = (OURS,)) -> None:
        self.nodes = nodes
        self.answers: dict[int, tuple[NeoResponseCode, bytes]] = {}
        self.refused: dict[int, str] = {}
        self.later: set[int] = set()
        self.asked: list[list[int]] = []
        self.submitted: list[list[int]] = []
        self.respond_error: Exception | None = None
        self.valid_until = 100
        self.builds = 0

    @property
    def public_key(self) -> bytes:
        return OURS

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        return self.nodes

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        return len(nodes) == 1

    async def respond(self, request_ids: Sequence[int]) -> list[NativeResponse]:
        if self.respond_error is not None:
            raise self.respond_error
        self.asked.append(list(request_ids))
        self.builds += 1
        out = []
        for rid in request_ids:
            if rid in self.later:
                out.append(NativeResponse(rid, Outcome.LATER, "the answer is full"))
            elif rid in self.refused:
                out.append(NativeResponse(rid, Outcome.REFUSED, self.refused[rid]))
            elif rid not in self.answers:
                out.append(NativeResponse(rid, Outcome.GONE, "not stored"))
            else:
                code, result = self.answers[rid]
                alone = self.signs_alone(self.nodes)
                out.append(
                    NativeResponse(
                        rid,
                        Outcome.SIGNED if alone else Outcome.SUBMISSION,
                        code=code,
                        result=result,
                        raw=b"response-%d-%d" % (rid, self.builds) if alone else b"",
                        tx_hash=f"0x{rid:032x}{self.builds:032x}",
                        valid_until_block=self.valid_until,
                        system_fee=5,
                        network_fee=7,
                        tx_signature=b"s" * 64,
                        submission_signature=b"" if alone else b"m" * 64,
                    )
                )
        return out

    async def submit(self, responses: Sequence[NativeResponse], nodes: Sequence[bytes]) -> int:
        self.submitted.append([r.request_id for r in responses])
        return 1


class World:
    def __init__(self, store: NativeOracleStore, node: FakeNode | None = None) -> None:
        self.store = store
        self.chain = FakeChain(head=1)
        self.node = node or FakeNode()
        self.clock = FakeClock()
        self.observer = RecordingObserver()
        self.fulfiller = NativeOracleFulfiller(
            self.chain,
            self.node,
            store,
            self.clock,
            self.observer,
            worker_id="w1",
            max_responses=3,
        )
        self.relay = OutboxRelay(
            self.chain, store, self.clock, self.observer, service=SERVICE, resend_after=timedelta(seconds=5)
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
            self.node.answers[i] = (NeoResponseCode.SUCCESS, b"[42.17]")

    async def status(self, request_id: int) -> RequestStatus:
        found = await self.store.get(SERVICE, ORACLE_CONTRACT, request_id)
        assert found is not None
        return found.status


async def test_what_the_enclave_signed_is_recorded_and_sent_as_it_is(store: NativeOracleStore) -> None:
    w = World(store)
    await w.request(1, 2, 3)
    assert await w.fulfiller.run_once() == 3
    assert w.node.asked == [[1, 2, 3]]  # one enclave call for the batch
    assert w.chain.sent == [b"response-1-1", b"response-2-1", b"response-3-1"]
    assert w.observer.transactions == ["accepted"] * 3
    assert [await w.status(i) for i in (1, 2, 3)] == [RequestStatus.FULFILLING] * 3
    outbox = await store.pending_outbox(SERVICE)
    assert {(e.raw, e.valid_until_block, e.send_count) for e in outbox} == {
        (b"response-%d-1" % i, 100, 1) for i in (1, 2, 3)
    }
    row = await store.get(SERVICE, ORACLE_CONTRACT, 2)
    assert row is not None
    assert row.asked == NativeParams(URL, "$.price")  # what the event asked, in the node's own table
    assert row.answer == NativeResult(NeoResponseCode.SUCCESS, b"[42.17]")  # recorded with the outbox
    assert row.tx_hash == f"0x{2:032x}{1:032x}"
    assert await w.fulfiller.run_once() == 0


async def test_a_gone_or_refused_request_is_marked_failed_and_never_sent(store: NativeOracleStore) -> None:
    w = World(store)
    await w.request(1, 2, 3)
    del w.node.answers[2]  # answered by another node, or its response faulted
    w.node.refused[3] = "the stored request is malformed: not an array of 7 items"
    assert await w.fulfiller.run_once() == 3
    assert w.chain.sent == [b"response-1-1"]
    gone, refused = await store.get(SERVICE, ORACLE_CONTRACT, 2), await store.get(SERVICE, ORACLE_CONTRACT, 3)
    assert gone is not None
    assert refused is not None
    assert (gone.status, gone.failure_reason) == (RequestStatus.FAILED, GONE)
    assert (refused.status, refused.failure_reason) == (RequestStatus.FAILED, w.node.refused[3])
    assert w.observer.outcomes == ["failed", "failed"]


async def test_a_request_left_for_later_is_released_and_answered_in_the_next_run(
    store: NativeOracleStore,
) -> None:
    w = World(store)
    await w.request(1, 2)
    w.node.later = {2}
    assert await w.fulfiller.run_once() == 2
    assert w.chain.sent == [b"response-1-1"]
    assert await w.status(2) is RequestStatus.SEEN
    w.node.later = set()
    assert await w.fulfiller.run_once() == 1  # released: claimed again at once
    assert w.node.asked[-1] == [2]
    assert await w.status(2) is RequestStatus.FULFILLING


async def test_a_node_not_designated_releases_its_claims(store: NativeOracleStore) -> None:
    w = World(store, FakeNode(nodes=(OTHER,)))
    await w.request(1)
    with pytest.raises(NotAnOracleNode):
        await w.fulfiller.run_once()
    assert w.node.asked == []
    assert w.observer.transactions == ["not_designated"]
    again = await store.claim(SERVICE, ORACLE_CONTRACT, "w2", w.clock.now(), w.clock.now(), 10)
    assert [r.request_id for r in again] == [1]  # released: another worker can take it at once


async def test_an_enclave_whose_node_is_down_releases_the_claims(store: NativeOracleStore) -> None:
    w = World(store)
    await w.request(1)
    w.node.respond_error = ChainUnavailable("the enclave's Neo node: no Neo node answered")
    with pytest.raises(ChainUnavailable):
        await w.fulfiller.run_once()
    again = await store.claim(SERVICE, ORACLE_CONTRACT, "w2", w.clock.now(), w.clock.now(), 10)
    assert [r.request_id for r in again] == [1]


async def test_with_several_signatures_needed_the_signatures_go_to_the_peers_and_the_leases_stay(
    store: NativeOracleStore,
) -> None:
    w = World(store, FakeNode(nodes=(OURS, OTHER)))
    await w.request(1, 2)
    assert await w.fulfiller.run_once() == 2
    assert w.node.submitted == [[1, 2]]
    assert w.chain.sent == []  # another node sends once it holds enough signatures
    assert await store.pending_outbox(SERVICE) == []
    assert w.observer.transactions == ["submitted"]
    assert [await w.status(i) for i in (1, 2)] == [RequestStatus.SEEN] * 2
    assert await w.fulfiller.run_once() == 0  # leased: not submitted again before the lease runs out
    w.clock.advance(31)
    assert await w.fulfiller.run_once() == 2  # still unanswered after the lease: submitted again
    assert len(w.node.submitted) == 2


async def test_a_response_the_chain_never_takes_is_sent_at_most_max_responses_times_then_failed(
    store: NativeOracleStore,
) -> None:
    """The node refuses every response of request 1 (2 gets through): each refused response is resent
    by the relay until its ``validUntilBlock``, then answered again; after 3 the request is failed."""
    w = World(store)
    await w.request(1, 2)
    w.node.valid_until = w.chain.head + 2
    w.chain.send_outcome = SendOutcome.REJECTED
    del w.node.answers[2]  # only request 1 in play: 2 is gone
    for attempt in range(1, 4):
        assert await w.fulfiller.run_once() >= 1
        assert len(w.node.asked) == attempt
        w.clock.advance(10)
        assert await w.relay.run_once() == {OutboxAction.RESEND: 1}  # refused again
        w.chain.head = w.node.valid_until  # never included: past its validUntilBlock
        w.node.valid_until = w.chain.head + 2
        w.clock.advance(40)  # the lease ran out too
        assert await w.relay.run_once() == {OutboxAction.EXPIRE: 1}
        assert await w.status(1) is RequestStatus.SEEN
    assert await w.fulfiller.run_once() == 1
    assert len(w.node.asked) == 3  # not asked a fourth time
    failed = await store.get(SERVICE, ORACLE_CONTRACT, 1)
    assert failed is not None
    assert (failed.status, failed.failure_reason) == (RequestStatus.FAILED, gave_up(3, 0))
    assert failed.attempts == 3
    assert w.observer.transactions.count("rejected") == 3
    assert w.observer.transactions.count("gave_up") == 1
    assert await w.fulfiller.run_once() == 0  # nothing left: never answered again
