"""The EVM fulfiller keeps its claims while a batch is answered and sent: a batch that outlasts its lease
is sent once, not claimed and answered again; a request another worker took meanwhile is left to it.

Over the in-memory request store (the SQL store's lease rules), a hand-moved clock and a submitter that
records what it was given and writes the outbox as the real one does before broadcasting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from neo_service_layer.kernel.chain.ports.chain import SendOutcome, SendResult, SignedTransaction
from neo_service_layer.kernel.chain.rules import ChainRequest, Lease, NewRequest, RequestStatus
from neo_service_layer.kernel.chain.use_cases.evm_fulfilment import EvmFulfiller
from tests.unit.chain.fakes import CONTRACT, FakeClock, MemoryRequestStore

SERVICE = "evm-test"
LEASE = 30.0


class Submitter:
    """Writes the outbox through ``record`` and "broadcasts" only what it accepted."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.refused: list[bytes] = []

    async def submit(
        self, to: str, data: bytes, record: Callable[[SignedTransaction], Awaitable[bool]]
    ) -> SendResult | None:
        tx = SignedTransaction(f"0x{len(self.sent) + len(self.refused):064x}", data, 100, 0, 0)
        if not await record(tx):
            self.refused.append(data)
            return None
        self.sent.append(data)
        return SendResult(SendOutcome.ACCEPTED)


class Fulfiller(EvmFulfiller[str, str]):
    """Answers each request with its own text; ``during_answer`` runs while the batch is answered."""

    def __init__(
        self,
        store: MemoryRequestStore[str, str],
        sender: Submitter,
        clock: FakeClock,
        renew_every: float | None = None,
    ) -> None:
        super().__init__(
            store,
            sender,
            clock,
            service=SERVICE,
            contract=CONTRACT,
            worker_id="w1",
            lease_seconds=LEASE,
            renew_every=renew_every,
        )
        self.during_answer: Callable[[], Awaitable[None]] | None = None
        self.answered: list[int] = []

    async def answer(self, requests: Sequence[ChainRequest[str, str]]) -> list[tuple[str, bytes]]:
        self.answered.extend(r.request_id for r in requests)
        if self.during_answer is not None:
            await self.during_answer()
        return [(r.asked, r.asked.encode()) for r in requests]

    def revert_name(self, data: str | None) -> str | None:
        return None


def world(*ids: int) -> tuple[MemoryRequestStore[str, str], Submitter, FakeClock]:
    store: MemoryRequestStore[str, str] = MemoryRequestStore()
    store.add(SERVICE, CONTRACT, [NewRequest(i, "0xconsumer", f"answer-{i}", 10, "0xreq") for i in ids])
    return store, Submitter(), FakeClock()


async def test_a_batch_that_outlasts_its_lease_is_sent_once_and_not_claimed_again() -> None:
    store, sender, clock = world(1, 2)
    fulfiller = Fulfiller(store, sender, clock)

    async def slow() -> None:
        clock.advance(LEASE + 1)  # the claims ran out while the answers were made; nobody took them

    fulfiller.during_answer = slow
    assert await fulfiller.run_once() == 2
    assert sender.sent == [b"answer-1", b"answer-2"]
    assert sender.refused == []
    assert store.statuses() == {1: RequestStatus.FULFILLING, 2: RequestStatus.FULFILLING}
    assert await fulfiller.run_once() == 0  # nothing left to claim: each request answered once
    assert fulfiller.answered == [1, 2]


async def test_a_request_another_worker_took_meanwhile_is_left_to_it() -> None:
    store, sender, clock = world(1, 2)
    fulfiller = Fulfiller(store, sender, clock)

    async def stalled() -> None:
        clock.advance(LEASE + 1)
        until: datetime = clock.now() + timedelta(seconds=LEASE)
        store.leases[(SERVICE, CONTRACT, 1)] = Lease("w2", until)  # w2 claimed request 1 meanwhile

    fulfiller.during_answer = stalled
    assert await fulfiller.run_once() == 2
    assert sender.sent == [b"answer-2"]
    assert sender.refused == []
    assert store.leases[(SERVICE, CONTRACT, 1)].owner == "w2"
    assert store.statuses() == {1: RequestStatus.SEEN, 2: RequestStatus.FULFILLING}


async def test_the_claims_are_renewed_while_the_answers_are_made() -> None:
    store, sender, clock = world(1)
    fulfiller = Fulfiller(store, sender, clock, renew_every=0.01)
    leases: list[datetime] = []

    async def three_leases_long() -> None:
        for _ in range(6):  # half a lease at a time; the keeper renews every 10 ms
            seen = store.leases[(SERVICE, CONTRACT, 1)].until
            clock.advance(LEASE / 2)
            async with asyncio.timeout(10):
                while store.leases[(SERVICE, CONTRACT, 1)].until == seen:
                    await asyncio.sleep(0.005)
            until = store.leases[(SERVICE, CONTRACT, 1)].until
            assert until is not None
            leases.append(until)
            other = await store.claim(SERVICE, CONTRACT, "w2", clock.now(), clock.now(), 10)
            assert other == []  # no other worker can claim it meanwhile

    fulfiller.during_answer = three_leases_long
    assert await fulfiller.run_once() == 1
    assert len(set(leases)) == 6
    assert leases == sorted(leases)
    assert sender.sent == [b"answer-1"]
