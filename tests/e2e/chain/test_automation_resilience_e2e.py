"""Automation exactly once through replicas and kills: two ``nsl worker`` processes on one database, one
of them SIGKILLed mid-run and restarted, the neo-go node killed and restarted; every occurrence of a
blocks trigger and every matching event is performed once, none twice, none lost. A ``latest``
upkeep whose workers were all down runs only the newest missed occurrence and shows the others as
missed."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import pytest

from neo_service_layer.services.automation.adapters.upkeep_store import SqlUpkeepStore
from neo_service_layer.services.automation.rules.triggers import EventTrigger, IntervalBlocksTrigger
from tests.e2e.chain.automation_support import (
    automation,
    deploy_target,
    height,
    register,
    restart_node,
    ticks,
)
from tests.e2e.chain.chaos_checks import worker_errors
from tests.e2e.chain.stack import Stack, call, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]

EVERY = 5


async def test_replicas_and_kills_perform_each_occurrence_once(stack: Stack) -> None:
    target = await deploy_target(stack)
    first = await height(stack)
    grid = await register(stack, target, IntervalBlocksTrigger(EVERY), fund=300 * 10**8)
    pings = await register(stack, target, EventTrigger("0x" + str(target), "Ping"), fund=300 * 10**8)
    since = (await stack.read(automation(stack), "getUpkeep", grid)).value[10].value

    replicas = [stack.start_worker(), stack.start_worker()]
    sent = 0

    async def ping(n: int) -> None:
        nonlocal sent
        await stack.committee.invoke(call(target, "ping", n))
        sent += n

    async def performed(upkeep: int) -> int:
        return Counter(t.upkeep_id for t in await ticks(stack, target, first))[upkeep]

    async def started() -> bool:
        return await performed(grid) >= 2

    await wait_for(started, 60, "the first runs")
    await ping(10)
    # one replica SIGKILLed while runs are due; the other carries on, then it comes back
    replicas[0].send_signal(signal.SIGKILL)
    replicas[0].wait()
    await ping(10)
    await asyncio.sleep(1.0)
    stack.start_worker()
    await ping(10)
    # the node killed and restarted on its data
    await restart_node(stack)
    await ping(10)
    last = await height(stack)

    async def settled() -> bool:
        found = await ticks(stack, target, first)
        grid_runs = {t.occurrence for t in found if t.upkeep_id == grid}
        expected = set(range(since + EVERY, last + 1, EVERY))
        return expected <= grid_runs and sum(1 for t in found if t.upkeep_id == pings) >= sent

    await wait_for(settled, 90, "every occurrence up to the last block to be performed")
    stack.stop_processes()

    found = await ticks(stack, target, first)
    per_occurrence = Counter((t.upkeep_id, t.occurrence) for t in found)
    assert max(per_occurrence.values()) == 1  # none twice, across replicas, kill and restart
    grid_runs = sorted(o for (u, o) in per_occurrence if u == grid)
    assert grid_runs[0] == since + EVERY  # none lost: a run for every step of the grid
    assert grid_runs == list(range(since + EVERY, grid_runs[-1] + 1, EVERY))
    assert sum(1 for (u, _o) in per_occurrence if u == pings) == sent  # one run per Ping
    assert worker_errors(stack) == {}


async def test_latest_catch_up_runs_the_newest_missed_occurrence_and_shows_the_rest(stack: Stack) -> None:
    target = await deploy_target(stack)
    first = await height(stack)
    upkeep = await register(stack, target, IntervalBlocksTrigger(EVERY), catch_up=1)
    since = (await stack.read(automation(stack), "getUpkeep", upkeep)).value[10].value
    await wait_for(lambda: _height_above(stack, since + 6 * EVERY), 30, "blocks to pass without a worker")
    down_until = await height(stack)

    worker = stack.start_worker()

    async def caught_up() -> bool:
        return len(await ticks(stack, target, first)) >= 1

    await wait_for(caught_up, 60, "the catch-up run")
    worker.send_signal(signal.SIGTERM)
    worker.wait()

    runs = sorted(t.occurrence for t in await ticks(stack, target, first))
    missed = list(range(since + EVERY, down_until + 1, EVERY))
    # the first run after the outage is the newest occurrence missed while no worker ran (or later)
    assert runs[0] >= missed[-1]
    assert not set(runs) & set(missed[:-1])
    shown = await SqlUpkeepStore(stack.engine).upkeep(stack.network.contracts["automation"], upkeep)
    assert shown is not None
    assert shown.skip_reason == "missed"
    assert shown.skips >= len(missed) - 1


async def _height_above(stack: Stack, block: int) -> bool:
    return await height(stack) > block
