"""Event streams (Server-Sent Events): the latency from an event's commit to its arrival on open
streams, on PostgreSQL (the API's listener hears the commit and wakes the tenant's streams) and on
SQLite (no notifications: the streams read the outbox every 0.5 s), both in the same run.

Usage: ``python -m bench.stream_latency [--rate 40] [--seconds 5] [--streams 3]
[--backends postgres,sqlite]``. PostgreSQL at ``NSL_TEST_POSTGRES_URL`` (a fresh database, dropped after).

Per backend: an API served by uvicorn on 127.0.0.1 in this process (a fresh database, one tenant, one
stream subscription), ``--streams`` clients reading its stream over HTTP, then one event every
``1/--rate`` s for ``--seconds`` published as a producer does (its own transaction); latency = arrival
on a stream - commit, over every stream and event. Loopback only; every wait is bounded. Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.subscriptions import _drop_database, _fresh_database, _pct

GUARD_SECONDS = 120.0


async def _read(
    client: httpx.AsyncClient,
    key: str,
    sub_id: str,
    arrivals: dict[int, float],
    opened: asyncio.Event,
    arrived: asyncio.Event,
) -> None:
    """Record when each event id arrives (and set ``arrived``), until cancelled."""
    headers = {"authorization": f"Bearer {key}"}
    async with client.stream("GET", f"/api/v1/subscriptions/{sub_id}/stream", headers=headers) as answer:
        answer.raise_for_status()
        async for line in answer.aiter_lines():
            if line.startswith(":"):
                opened.set()
            elif line.startswith("id: "):
                arrivals.setdefault(int(line[4:]), time.monotonic())
                arrived.set()


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    from tests.http.keys.conftest import MovableClock
    from tests.http.serverproc import free_port
    from tests.http.subscriptions.conftest import Api

    from neo_service_layer.bootstrap import create_app
    from neo_service_layer.kernel.config import Settings

    admin_url = os.environ.get("NSL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    data_dir = Path(tempfile.mkdtemp(prefix="nsl-bench-"))
    db_name = None
    if backend == "postgres":
        db_name, db_url = await _fresh_database(admin_url)
    else:
        db_url = f"sqlite+aiosqlite:///{data_dir / 'nsl.db'}"
    settings = Settings(
        env="test", data_dir=data_dir, database_url=db_url, rate_limit_enabled=False, log_level="WARNING"
    )
    clock = MovableClock()
    app = create_app(settings, clock=clock)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    committed: dict[int, float] = {}
    arrivals: list[dict[int, float]] = [{} for _ in range(args.streams)]
    try:
        for _ in range(int(GUARD_SECONDS / 0.02)):  # bounded: a hang guard
            if server.started:
                break
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            tenant = await Api(app, client, clock).tenant("bench")
            sub_id, _ = await tenant.subscribe(["audit.security"])
            key = await tenant.key()
            opened, arrived = [asyncio.Event() for _ in range(args.streams)], asyncio.Event()
            readers = [
                asyncio.create_task(_read(client, key, sub_id, arrivals[n], opened[n], arrived))
                for n in range(args.streams)
            ]
            try:
                async with asyncio.timeout(GUARD_SECONDS):
                    await asyncio.gather(*(o.wait() for o in opened))
                interval, next_at = 1 / args.rate, time.monotonic()
                for _ in range(int(args.rate * args.seconds)):
                    [event_id] = await tenant.publish("audit.security")
                    committed[int(event_id)] = time.monotonic()
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                async with asyncio.timeout(GUARD_SECONDS):
                    while not all(committed.keys() <= seen.keys() for seen in arrivals):
                        arrived.clear()
                        await arrived.wait()
            finally:
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
    finally:
        server.should_exit = True
        await serving
        if db_name is not None:
            await _drop_database(admin_url, db_name)
    latencies = [seen[i] - at for seen in arrivals for i, at in committed.items()]
    return {
        "backend": backend,
        "samples": len(latencies),
        "p50": _pct(latencies, 0.5),
        "p99": _pct(latencies, 0.99),
    }


async def main(args: argparse.Namespace) -> None:
    rows = [await run_backend(backend, args) for backend in args.backends.split(",")]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n## Event streams: commit to arrival — {when} ({platform.node()[:20]}, {platform.machine()}, "
        f"{os.cpu_count()} cores, python {platform.python_version()}, API in one uvicorn process)\n"
    )
    print(f"{args.streams} streams, one event every {1000 / args.rate:g} ms for {args.seconds:g} s\n")
    print("| database | samples | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['backend']} | {row['samples']} | {row['p50']:.1f} | {row['p99']:.1f} |")
    print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.1f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--backends", default="postgres,sqlite")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
