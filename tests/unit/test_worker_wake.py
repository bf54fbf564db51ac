"""A job's ``wake`` runs it before its interval is out: a wake during a run is one more run, many
wakes are one run, and after a failed run a wake does not count (the job waits its interval)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.kernel.worker.runner import _loop

HOUR = timedelta(hours=1)  # no run in these tests may come from the interval


async def _settle() -> None:
    """Let the loop go round: a job that would run again runs within these turns."""
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_wake_runs_the_job_again_before_its_interval() -> None:
    stop, wake, runs = asyncio.Event(), asyncio.Event(), []

    async def run() -> None:
        runs.append(len(runs))

    loop = asyncio.create_task(_loop(PeriodicJob("j", HOUR, run, wake=wake), stop))
    await _settle()
    assert runs == [0]
    wake.set()
    await _settle()
    assert runs == [0, 1]
    stop.set()
    async with asyncio.timeout(5):  # a hang guard: stopping ends the pause at once
        await loop
    assert runs == [0, 1]


async def test_wakes_during_a_run_are_one_more_run() -> None:
    stop, wake, runs = asyncio.Event(), asyncio.Event(), []

    async def run() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            for _ in range(3):
                wake.set()

    loop = asyncio.create_task(_loop(PeriodicJob("j", HOUR, run, wake=wake), stop))
    await _settle()
    assert runs == [0, 1]
    stop.set()
    await loop


async def test_a_failed_run_waits_its_interval_whatever_wakes_it() -> None:
    stop, wake, runs = asyncio.Event(), asyncio.Event(), []

    async def run() -> None:
        runs.append(len(runs))
        wake.set()
        raise RuntimeError("the database said no")

    loop = asyncio.create_task(_loop(PeriodicJob("j", HOUR, run, wake=wake), stop))
    await _settle()
    assert runs == [0]
    wake.set()
    await _settle()
    assert runs == [0]
    stop.set()
    await loop
