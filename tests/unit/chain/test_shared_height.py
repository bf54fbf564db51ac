"""One head read shared by a process's pollers: fresh values and reads in flight are shared, errors are
not remembered, a cancelled reader does not cancel the callers waiting on it."""

from __future__ import annotations

import asyncio

import pytest

from neo_service_layer.kernel.chain.adapters.shared_height import SharedHeight
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable


class Node:
    """Records every height read; each read waits for ``gate`` when set."""

    def __init__(self) -> None:
        self.height = 10
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None

    async def read(self) -> int:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.height


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def shared(node: Node, clock: Clock, counts: list[bool] | None = None) -> SharedHeight:
    return SharedHeight(node.read, 0.05, counted=None if counts is None else counts.append, monotonic=clock)


async def test_a_fresh_height_is_shared_and_an_old_one_read_again() -> None:
    node, clock, counts = Node(), Clock(), list[bool]()
    head = shared(node, clock, counts)
    assert [await head.read() for _ in range(3)] == [10, 10, 10]
    assert node.reads == 1
    node.height, clock.now = 11, clock.now + 0.049
    assert await head.read() == 10  # still younger than max_age
    clock.now += 0.002
    assert await head.read() == 11
    assert node.reads == 2
    assert counts == [False, True, True, True, False]


async def test_callers_arriving_during_a_read_wait_for_it_instead_of_reading() -> None:
    node, clock = Node(), Clock()
    node.gate = asyncio.Event()
    head = shared(node, clock)
    readers = [asyncio.create_task(head.read()) for _ in range(7)]
    await asyncio.sleep(0)
    node.gate.set()
    assert await asyncio.gather(*readers) == [10] * 7
    assert node.reads == 1


async def test_a_failed_read_fails_its_waiters_and_is_not_remembered() -> None:
    node, clock = Node(), Clock()
    node.gate, node.fail = asyncio.Event(), ChainUnavailable("node down")
    head = shared(node, clock)
    readers = [asyncio.create_task(head.read()) for _ in range(3)]
    await asyncio.sleep(0)
    node.gate.set()
    outcomes = await asyncio.gather(*readers, return_exceptions=True)
    assert all(isinstance(o, ChainUnavailable) for o in outcomes)
    node.fail = None
    assert await head.read() == 10  # the next call reads again at once
    assert node.reads == 2


async def test_a_cancelled_reader_leaves_its_waiters_to_read_for_themselves() -> None:
    node, clock = Node(), Clock()
    node.gate = asyncio.Event()
    head = shared(node, clock)
    first = asyncio.create_task(head.read())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(head.read())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    node.gate.set()
    assert await waiter == 10
    with pytest.raises(asyncio.CancelledError):
        await first
    assert node.reads == 2


async def test_max_age_zero_reads_every_time() -> None:
    node, clock = Node(), Clock()
    head = SharedHeight(node.read, 0.0, monotonic=clock)
    for _ in range(3):
        await head.read()
    assert node.reads == 3
