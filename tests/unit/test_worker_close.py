"""A worker job's ``close`` runs once when the worker stops, after the job's last run (a bus consumer
closes its connection there), and a failing close is logged without stopping the others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.kernel.worker.runner import _loop


async def test_close_runs_once_after_the_last_run() -> None:
    events: list[str] = []
    stop = asyncio.Event()

    async def run() -> None:
        events.append("run")
        if events.count("run") == 3:
            stop.set()

    async def close() -> None:
        events.append("close")

    async def broken() -> None:
        raise RuntimeError("closing failed")

    await asyncio.gather(
        _loop(PeriodicJob("a", timedelta(seconds=0), run, close=close), stop),
        _loop(PeriodicJob("b", timedelta(seconds=60), lambda: asyncio.sleep(0), close=broken), stop),
    )
    assert events == ["run", "run", "run", "close"]
