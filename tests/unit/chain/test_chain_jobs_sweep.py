"""The watch job claims in the tick that read a new block, and otherwise at most once per sweep interval
(an idle chain no longer costs a claim, a write transaction, every tenth of a block)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from neo_service_layer.kernel.chain.jobs import Sweep, read_blocks, watch_jobs
from neo_service_layer.kernel.chain.parts import ChainKernel
from neo_service_layer.kernel.chain.use_cases.watcher import PollResult


class Watcher:
    def __init__(self) -> None:
        self.blocks = 0

    async def poll(self) -> PollResult:
        blocks, self.blocks = self.blocks, 0
        return PollResult(head=5, processed=blocks, cursor=5, transitions=())


class Fulfiller:
    def __init__(self) -> None:
        self.claims = 0

    async def run_once(self) -> int:
        self.claims += 1
        return 0


def test_a_read_block_is_always_due_and_an_idle_tick_once_per_interval() -> None:
    now = [0.0]
    sweep = Sweep(0.5, monotonic=lambda: now[0])
    assert sweep.due(False)  # the first tick claims: work left from before a restart
    assert [sweep.due(False) for _ in range(3)] == [False, False, False]
    assert sweep.due(True)
    now[0] = 0.49
    assert not sweep.due(False)  # the interval counts from the last claim, the read block's
    now[0] = 0.5
    assert sweep.due(False)


def test_what_counts_as_a_read_block() -> None:
    assert not read_blocks(PollResult(1, 0, 1, ()))
    assert read_blocks(PollResult(2, 1, 2, ()))
    assert not read_blocks(0)
    assert read_blocks(3)
    assert read_blocks(None)  # a poll that says nothing: claim every tick, as before


async def test_the_watch_job_claims_when_a_block_was_read() -> None:
    chain = cast(
        ChainKernel,
        SimpleNamespace(
            relay=lambda _service: None, poll_interval=0.1, network=SimpleNamespace(block_time=3600.0)
        ),
    )
    watcher, fulfiller = Watcher(), Fulfiller()
    watch, _relay = watch_jobs(chain, "randomness", watcher, fulfiller)
    for _ in range(5):
        await watch.run()
    assert fulfiller.claims == 1  # the first tick only: the sweep interval is half an hour here
    watcher.blocks = 1
    await watch.run()
    assert fulfiller.claims == 2
