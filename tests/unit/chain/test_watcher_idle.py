"""A poll that finds the head it last caught up with reads nothing more: no cursor read, no block."""

from __future__ import annotations

from typing import Any

from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.use_cases import RandomnessStore
from tests.unit.chain.fakes import CONTRACT, FakeChain, randomness_watcher, requested


class CountingStore:
    """The real store, with its cursor reads counted."""

    def __init__(self, store: RandomnessStore) -> None:
        self.store = store
        self.cursor_reads = 0

    async def cursor(self, name: str) -> int | None:
        self.cursor_reads += 1
        return await self.store.cursor(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def test_an_idle_poll_reads_no_cursor_and_a_new_head_is_read_as_before(store: RandomnessStore) -> None:
    chain = FakeChain(head=2, blocks={1: [requested(1, 1)]})
    counting = CountingStore(store)
    watch = randomness_watcher(chain, counting)
    first = await watch.poll()
    assert (first.processed, first.cursor, counting.cursor_reads) == (2, 2, 1)
    chain.event_reads.clear()
    for _ in range(5):
        idle = await watch.poll()
        assert (idle.processed, idle.cursor, idle.transitions) == (0, 2, ())
    assert counting.cursor_reads == 1
    assert chain.event_reads == []
    chain.blocks[3] = [requested(3, 2)]
    chain.head = 3
    moved = await watch.poll()
    assert (moved.processed, moved.cursor, counting.cursor_reads) == (1, 3, 2)
    row = await store.get(randomness.SERVICE, CONTRACT, 2)
    assert row is not None
    assert row.status is RequestStatus.SEEN


async def test_a_watcher_behind_the_head_keeps_reading_the_cursor(store: RandomnessStore) -> None:
    chain = FakeChain(head=250, blocks={})
    counting = CountingStore(store)
    watch = randomness_watcher(chain, counting)  # at most 100 blocks a poll
    cursors = [(await watch.poll()).cursor for _ in range(3)]
    assert cursors == [100, 200, 250]  # catching up in steps: each poll reads the cursor again
    assert counting.cursor_reads == 3
