"""Soak: mixed traffic at half the measured capacity for a long time; nothing fails and nothing grows.

Usage: ``python -m bench.soak [--minutes 30] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]``.

Starts a whole installation on loopback (neo-go single node, the enclave process, ``nsl worker``,
``nsl serve``; SQLite, or a fresh PostgreSQL database created on the server given and dropped after),
a tenant with an API key holding the keys and secrets scopes, a dice consumer and an oracle price
consumer. Then:

1. capacity: the HTTP mix of ``soak_load.MIX`` closed-loop (``--concurrency`` in flight) for
   ``--capacity-seconds``, on-chain requests flowing meanwhile;
2. soak: the same mix open-loop at ``--fraction`` of that rate for ``--minutes``, on-chain requests at
   ``--chain-rate`` per second, and every ``--sample-seconds`` each process's RSS, open descriptors and
   database connections (``soak_probe``);
3. settle: every on-chain request sent must be answered.

Criteria (exit status 1 if one fails): no HTTP error, no failed on-chain send, no error line in any
process's log, every on-chain request answered; per process, the mean RSS of the last window at most
10 % above that of the first window after warm-up (5-minute windows after a 5-minute warm-up for runs of
20 minutes or more, else 1-minute windows and no warm-up beyond the capacity phase), and descriptors
and database connections not grown (grown: every reading of the last window above every reading of the
first). An open-loop arrival finding ``--max-in-flight`` operations unanswered is an error too: on a
machine shared with other work, load spikes show up as such ``backlog`` errors (the report gives the
load average). neo-go's heap fills its caches over its first ~4 minutes (RSS about 42 -> 65 MB at 1 s
blocks, then flat), so a run shorter than that with no warm-up reports neo-go as grown.
Prints progress on stderr and a markdown block for ``bench/RESULTS.md`` on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
from sqlalchemy import text
from tests.contracts.contract_support import build_contracts
from tests.e2e.chain.oracle_support import deploy_oracle_consumer, web_server
from tests.e2e.chain.stack import Stack, close_stack, open_stack, tenant_api_key

from bench.soak_load import ChainLoad, HttpLoad, closed_loop, open_loop
from bench.soak_probe import Sample, fd_kinds, read
from bench.soak_report import render
from neo_service_layer.kernel.chain.adapters.privnet import find_free_port

SCOPES = ["keys:read", "keys:sign", "keys:admin", "secrets:read", "secrets:write"]


async def api_key(stack: Stack) -> str:
    """A tenant and an API key for the run."""
    return await tenant_api_key(stack, "soak", SCOPES)


def start_api(stack: Stack) -> subprocess.Popen[bytes]:
    with (stack.directory / "api.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "serve", "--no-migrate"],
            env=stack.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(client: httpx.AsyncClient, api: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError("the API exited while starting (see api.log)")
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError("the API did not become ready within 60 s")


def log_errors(directory: Path) -> Counter[str]:
    """Error and critical lines of every process's JSON log, by process and event."""
    found = Counter[str]()
    for path in sorted(directory.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in {"error", "critical"}:
                found[f"{path.stem}: {record.get('event')}"] += 1
    return found


class Soak:
    def __init__(self, args: argparse.Namespace, stack: Stack, pg_admin: asyncpg.Connection | None) -> None:
        self.args = args
        self.stack = stack
        self.pg_admin = pg_admin
        self.pg_name = urlsplit(stack.settings.effective_database_url).path.lstrip("/") if pg_admin else None
        self.samples: list[Sample] = []
        self.processes: dict[str, int] = {}
        self.alive: dict[str, subprocess.Popen[bytes]] = {}
        self.capacity = self.target = self.achieved = 0.0
        self.answered = 0  # on-chain requests delivered once the run settled
        self._latencies_seen = 0
        self.fds_first: dict[str, Counter[str]] = {}
        self.fds_last: dict[str, Counter[str]] = {}

    async def sample(self, began: float, load: HttpLoad, chain: ChainLoad) -> Sample:
        settings = self.stack.settings
        pg_port = urlsplit(settings.effective_database_url).port or 5432 if self.pg_admin else None
        db_file = None if self.pg_admin else str((settings.data_dir / "nsl.db").resolve())
        readings = {name: read(pid, pg_port=pg_port, db_file=db_file) for name, pid in self.processes.items()}
        pg = None
        if self.pg_admin is not None:
            pg = int(
                await self.pg_admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", self.pg_name
                )
            )
        async with self.stack.engine.connect() as conn:
            answered = (
                await conn.execute(text("SELECT count(*) FROM chain_requests WHERE status = 'delivered'"))
            ).scalar()
        recent = sorted(load.latencies[self._latencies_seen :])
        self._latencies_seen = len(load.latencies)
        return Sample(
            time.monotonic() - began,
            readings,
            pg,
            sum(load.done.values()),
            sum(load.errors.values()),
            sum(chain.sent.values()),
            int(answered or 0),
            recent[int(len(recent) * 0.99)] * 1000 if recent else 0.0,
            os.getloadavg()[0],
        )

    def fd_kinds(self) -> dict[str, Counter[str]]:
        data = str(self.stack.directory)
        return {name: fd_kinds(pid, data) for name, pid in self.processes.items()}

    async def sampler(self, began: float, load: HttpLoad, chain: ChainLoad, stop: asyncio.Event) -> None:
        while True:
            for name, process in self.alive.items():
                if process.poll() is not None:
                    load.errors[(f"process {name}", f"exited {process.returncode}")] += 1
            sample = await self.sample(began, load, chain)
            self.samples.append(sample)
            if len(self.samples) == 1:
                self.fds_first = self.fd_kinds()
            parts = " ".join(
                f"{n} {r.rss_kb / 1024:.0f}MB/{r.fds}fd/{r.db}db" for n, r in sample.processes.items()
            )
            print(
                f"[{sample.seconds:6.0f}s] http {sample.http_done} ok {sample.http_errors} err; chain "
                f"{sample.chain_sent} sent {sample.chain_answered} answered; p99 {sample.p99_ms:.0f} ms; "
                f"load {sample.loadavg:.1f}; pg {sample.pg_connections}; {parts}",
                file=sys.stderr,
                flush=True,
            )
            try:
                await asyncio.wait_for(stop.wait(), self.args.sample_seconds)
                return
            except TimeoutError:
                continue

    async def run(self) -> tuple[HttpLoad, ChainLoad, Counter[str]]:
        args, stack = self.args, self.stack
        expected = int(args.chain_rate * (args.capacity_seconds + args.minutes * 60) * 1.3) + 20
        dice = await stack.deploy_consumer("dice_consumer", gas=200 + expected)
        prices = await deploy_oracle_consumer(stack, "price_consumer", gas=200 + 2 * expected)
        worker = stack.start_worker()
        api = start_api(stack)
        key = await api_key(stack)
        self.alive = {"api": api, "worker": worker, "enclave": stack.enclave}
        self.processes = {"api": api.pid, "worker": worker.pid, "enclave": stack.enclave.pid}
        assert stack.net.pid is not None
        self.processes["neo-go"] = stack.net.pid
        with web_server() as web:
            web.set("/ticker", {"price": 42})
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{stack.settings.http_port}",
                headers={"authorization": f"Bearer {key}"},
                timeout=30,
                limits=httpx.Limits(
                    max_connections=args.concurrency, max_keepalive_connections=args.concurrency
                ),
            ) as client:
                await wait_ready(client, api)
                load = HttpLoad(client, random.Random(args.seed), args.max_new_keys)
                await load.prepare()
                chain = ChainLoad(stack, dice, prices, web.url("/ticker"), args.chain_rate)
                chain_task = asyncio.create_task(chain.run())
                print(
                    f"capacity: closed loop, {args.concurrency} in flight, {args.capacity_seconds:g} s",
                    file=sys.stderr,
                    flush=True,
                )
                self.capacity = await closed_loop(load, args.concurrency, args.capacity_seconds)
                self.target = self.capacity * args.fraction
                print(
                    f"capacity {self.capacity:.1f} ops/s; soak at {self.target:.1f} ops/s for "
                    f"{args.minutes:g} min",
                    file=sys.stderr,
                    flush=True,
                )
                load.recording = True
                stop = asyncio.Event()
                began = time.monotonic()
                sampler = asyncio.create_task(self.sampler(began, load, chain, stop))
                self.achieved = await open_loop(load, self.target, args.minutes * 60, args.max_in_flight)
                stop.set()
                await sampler
                self.samples.append(await self.sample(began, load, chain))
                self.fds_last = self.fd_kinds()
                chain.stop()
                await chain_task
                await self.settle(chain)
        return load, chain, log_errors(stack.directory)

    async def settle(self, chain: ChainLoad, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with self.stack.engine.connect() as conn:
                answered = (
                    await conn.execute(text("SELECT count(*) FROM chain_requests WHERE status = 'delivered'"))
                ).scalar()
            self.answered = int(answered or 0)
            if self.answered >= sum(chain.sent.values()):
                return
            await asyncio.sleep(1.0)


async def fresh_database(admin_url: str) -> tuple[str, str]:
    """(URL of a new empty database, its name) on the server of ``admin_url``."""
    name = f"nsl_soak_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rpartition('/')[0]}/{name}", name


async def main_async(args: argparse.Namespace) -> int:
    build_contracts()
    database_url = None
    if args.postgres:
        database_url, name = await fresh_database(args.postgres)
    try:
        stack = await open_stack(
            database_url=database_url,
            block_time=args.block_time,
            neo_lease_seconds=30,
            neo_valid_until_blocks=20,
            oracle_allow_hosts="127.0.0.1",
            oracle_allow_http="true",
            http_port=find_free_port(),
            rate_limit_enabled="false",
            log_level="WARNING",
        )
        pg_admin = await asyncpg.connect(args.postgres) if args.postgres else None
        soak = Soak(args, stack, pg_admin)
        try:
            load, chain, logs = await soak.run()
            report, failed = render(args, soak, load, chain, logs)
            if args.samples_json:
                with open(args.samples_json, "w") as out:  # noqa: ASYNC230 - once, after the run
                    json.dump([asdict(s) for s in soak.samples], out, indent=1)
        finally:
            api = soak.alive.get("api")
            if api is not None and api.poll() is None:
                api.terminate()
                api.wait(timeout=20)
            await close_stack(stack)
            if pg_admin is not None:
                await pg_admin.close()
            if args.keep:
                print(f"logs kept in {stack.directory}", file=sys.stderr)
            else:
                shutil.rmtree(stack.directory, ignore_errors=True)
    finally:
        if args.postgres:
            conn = await asyncpg.connect(args.postgres)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
    print(report)
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--postgres", metavar="ADMIN_URL", help="PostgreSQL server (a fresh database is made)"
    )
    parser.add_argument("--fraction", type=float, default=0.5, help="share of the capacity to soak at")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16, help="closed loop: operations in flight")
    parser.add_argument(
        "--max-in-flight", type=int, default=64, help="open loop: beyond, an arrival is an error"
    )
    parser.add_argument("--chain-rate", type=float, default=1.0, help="on-chain requests per second")
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--sample-seconds", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=None)
    parser.add_argument("--window-minutes", type=float, default=None)
    parser.add_argument("--max-new-keys", type=int, default=50)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--samples-json", help="write every sample to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
