"""The watcher notices a node that made again blocks it had applied (a single-validator node killed before
writing them, found by ``bench/chaos.py --lossy-node``) and reads them again: a fulfilment that landed in
a remade block below its cursor is seen instead of leaving the request ``fulfilling`` for ever."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from neo_service_layer.kernel.chain.ports.chain import BlockEvents, SignedTransaction
from neo_service_layer.kernel.chain.rules import Fulfilment, RequestStatus
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.rules import RandomnessResult
from neo_service_layer.services.randomness.use_cases import RandomnessStore
from tests.unit.chain.fakes import (
    CONTRACT,
    FakeChain,
    FakeClock,
    delivered,
    fulfilled,
    randomness_watcher,
    requested,
)

LEASE = timedelta(seconds=30)


@dataclass
class RemadeChain(FakeChain):
    """A ``FakeChain`` whose blocks have hashes; ``remake`` gives blocks new ones (and new events)."""

    versions: dict[int, int] = field(default_factory=dict)

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        found = await super().block_events(index, contract)
        return BlockEvents(index, found.time, found.events, f"{index}:{self.versions.get(index, 0)}")

    def remake(self, *indexes: int) -> None:
        for index in indexes:
            self.versions[index] = self.versions.get(index, 0) + 1
            self.blocks.pop(index, None)


async def status(store: RandomnessStore, request_id: int) -> RequestStatus | None:
    row = await store.get(randomness.SERVICE, CONTRACT, request_id)
    return row.status if row is not None else None


async def test_a_fulfilment_in_a_remade_block_below_the_cursor_is_read(store: RandomnessStore) -> None:
    chain = RemadeChain(head=3, blocks={1: [requested(1, 1)]})
    watch = randomness_watcher(chain, store)
    await watch.poll()
    assert await status(store, 1) is RequestStatus.SEEN
    # the node lost blocks 2-3 and made them again; our (resent) fulfilment is in the new block 3
    chain.remake(2, 3)
    chain.blocks[3] = [fulfilled(3, 1, "0xf")]
    chain.head = 4
    chain.event_reads.clear()
    result = await watch.poll()
    assert await status(store, 1) is RequestStatus.FULFILLED
    assert result.cursor == 4
    assert chain.event_reads == [3, 2, 1, 2, 3, 4]  # checked down to the unchanged block 1, read 2-4 again


async def test_an_unchanged_chain_costs_one_check_per_new_head(store: RandomnessStore) -> None:
    chain = RemadeChain(head=3, blocks={1: [requested(1, 1)]})
    watch = randomness_watcher(chain, store)
    await watch.poll()
    chain.event_reads.clear()
    await watch.poll()  # same head: nothing read
    assert chain.event_reads == []
    chain.head = 4
    await watch.poll()
    assert chain.event_reads == [3, 4]  # the cursor's block checked, the new block read


async def test_a_node_behind_its_lost_blocks_is_read_again_as_it_makes_them(store: RandomnessStore) -> None:
    chain = RemadeChain(head=4, blocks={1: [requested(1, 1)]})
    watch = randomness_watcher(chain, store)
    await watch.poll()
    chain.remake(3, 4)
    chain.head = 2  # restarted with blocks 3-4 lost: nothing to read yet, nothing changed below
    await watch.poll()
    chain.blocks[3] = [fulfilled(3, 1, "0xf")]
    chain.head = 3  # block 3 made again, below the cursor (4)
    await watch.poll()
    assert await status(store, 1) is RequestStatus.FULFILLED


async def test_a_fulfilment_the_node_lost_is_opened_again_with_its_transaction_pending(
    store: RandomnessStore,
) -> None:
    clock = FakeClock()
    chain = RemadeChain(head=2, blocks={1: [requested(1, 1), requested(1, 2, "0xreq2")]})
    watch = randomness_watcher(chain, store)
    await watch.poll()
    claimed = await store.claim(randomness.SERVICE, CONTRACT, "w", clock.now(), clock.now() + LEASE, 10)
    assert [r.request_id for r in claimed] == [1, 2]
    ours = SignedTransaction("0xf", b"raw", 10, 1, 1)
    answer = Fulfilment(1, RandomnessResult(b"o" * 32, b"p" * 96), with_delivery=True)
    assert await store.write_outbox(randomness.SERVICE, CONTRACT, "w", clock.now(), ours, [answer])
    # our fulfilment of 1 and someone else's of 2 land in block 3; the node then loses blocks 3-4
    chain.blocks[3] = [fulfilled(3, 1, "0xf"), delivered(3, 1, "0xf"), fulfilled(3, 2, "0xother")]
    chain.head = 4
    await watch.poll()
    assert await status(store, 1) is RequestStatus.DELIVERED
    assert await store.pending_outbox(randomness.SERVICE) == []
    chain.remake(3, 4)
    chain.head = 5
    await watch.poll()
    row = await store.get(randomness.SERVICE, CONTRACT, 1)
    assert row is not None
    assert (row.status, row.pending_tx, row.fulfilled_block) == (RequestStatus.FULFILLING, "0xf", None)
    assert [e.tx_hash for e in await store.pending_outbox(randomness.SERVICE)] == ["0xf"]  # sent again
    assert await status(store, 2) is RequestStatus.SEEN  # not ours: answered again by a claim
