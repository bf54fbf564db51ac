"""Subscriptions end to end: events per second from publish to a loopback webhook receiver, and the
delivery latency (p50/p99), with the embedded relay and with RabbitMQ, against raw POSTs to the same
receiver measured in the same run.

Usage: ``python -m bench.subscriptions [--events 3000] [--subscriptions 3] [--rate 40] [--seconds 10]``
(``--modes embedded,rabbitmq``; ``--tls``: the receiver serves https with a self-signed certificate the
worker trusts through ``SSL_CERT_FILE``). Needs PostgreSQL (``NSL_TEST_POSTGRES_URL``, a fresh database per
mode) and, for ``rabbitmq``, a broker (``NSL_TEST_RABBITMQ_URL``, default guest on 127.0.0.1:5672).

Per mode: a fresh database and API in this process (tenant, ``--subscriptions`` webhook subscriptions
to ``/s{n}`` on an aiohttp receiver here), and one worker process running exactly the production
subscription jobs (``service.subscription_jobs``: relay + polling delivery every 0.5 s, or with
``NSL_BUS_URL`` relay + dispatcher + consumer) and the kernel's (``bootstrap.worker_jobs``: heartbeat,
idempotency purge and the new events' listener that wakes the relay). Phase 1 (throughput):
``--events`` events published at once (batches of 500); events per second = deliveries / (last
arrival - first publish). Phase 2 (latency): one event every ``1/--rate`` s for ``--seconds``; latency
= first arrival - commit. Reference: the same number of POSTs as phase 1 with ``--subscriptions``
sequential streams (a subscription sends one at a time), a new connection each (as the poster did
before it kept them) and over keep-alive.
Loopback only; every loop is bounded. Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import ssl
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
GUARD_SECONDS = 600.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


class Receiver:
    def __init__(self, tls: Path | None = None) -> None:
        """``tls``: a directory where the receiver's self-signed certificate is written (https)."""
        self.first: dict[tuple[str, int], float] = {}
        self.count = 0
        self.arrived = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.certificate: Path | None = None
        self._server_tls: ssl.SSLContext | None = None
        if tls is not None:
            from tests.http.tlscerts import self_signed

            self.certificate, key = self_signed(tls)
            self._server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._server_tls.load_cert_chain(self.certificate, key)

    def client_tls(self) -> ssl.SSLContext | bool:
        """What a client trusts to reach this receiver (its certificate over https)."""
        if self.certificate is None:
            return True
        return ssl.create_default_context(cafile=str(self.certificate))

    async def start(self) -> str:
        async def handle(request: web.Request) -> web.Response:
            await request.read()
            self.count += 1
            self.arrived.set()
            msg_id = request.headers.get("webhook-id")
            if msg_id is not None:
                self.first.setdefault((request.match_info["name"], int(msg_id)), time.monotonic())
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/{name}", handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024, ssl_context=self._server_tls)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if self._server_tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def wait_for(self, keys: set[tuple[str, int]]) -> None:
        """Until every key has arrived (bounded by ``GUARD_SECONDS``: a hang guard, not a measurement)."""
        async with asyncio.timeout(GUARD_SECONDS):
            while not keys <= self.first.keys():
                self.arrived.clear()
                await self.arrived.wait()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def reference(base: str, total: int, streams: int, tls: ssl.SSLContext | bool) -> dict[str, float]:
    body = b'{"id":1,"type":"audit.security","timestamp":"2026-12-03T00:00:00.000000Z","data":{"n":1}}'
    results: dict[str, float] = {}
    for label, keep_alive in (("new connection", False), ("keep-alive", True)):
        latencies: list[float] = []

        async def stream(n: int, keep_alive: bool = keep_alive, latencies: list[float] = latencies) -> None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) if keep_alive else None
            try:
                for i in range(total // streams):
                    start = time.monotonic()
                    if session is None:
                        async with (
                            aiohttp.ClientSession(
                                connector=aiohttp.TCPConnector(force_close=True, ssl=tls)
                            ) as s,
                            s.post(f"{base}/ref{n}", data=body, headers={"webhook-id": str(i)}) as r,
                        ):
                            await r.read()
                    else:
                        async with session.post(f"{base}/ref{n}", data=body) as r:
                            await r.read()
                    latencies.append(time.monotonic() - start)
            finally:
                if session is not None:
                    await session.close()

        start = time.monotonic()
        await asyncio.gather(*(stream(n) for n in range(streams)))
        results[f"{label} POSTs/s"] = len(latencies) / (time.monotonic() - start)
        results[f"{label} p50 ms"] = _pct(latencies, 0.5)
        results[f"{label} p99 ms"] = _pct(latencies, 0.99)
    return results


async def _fresh_database(admin_url: str) -> tuple[str, str]:
    name = f"nsl_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, f"{admin_url.rpartition('/')[0]}/{name}"


async def _drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def run_mode(mode: str, args: argparse.Namespace, receiver: Receiver, base: str) -> dict[str, Any]:
    from tests.http.appclient import app_client
    from tests.http.keys.conftest import MovableClock
    from tests.http.subscriptions.conftest import Api

    from neo_service_layer.bootstrap import create_app
    from neo_service_layer.kernel.config import Settings

    admin_url = os.environ.get("NSL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    db_name, db_url = await _fresh_database(admin_url)
    data_dir = Path(tempfile.mkdtemp(prefix="nsl-bench-"))
    env = {
        "NSL_ENV": "test",
        "NSL_DATA_DIR": str(data_dir),
        "NSL_DATABASE_URL": db_url,
        "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
        "NSL_ORACLE_ALLOW_HTTP": "true",
        "NSL_RATE_LIMIT_ENABLED": "false",
        "NSL_LOG_LEVEL": "WARNING",
    }
    if receiver.certificate is not None:  # the worker trusts the receiver's certificate (https)
        env["SSL_CERT_FILE"] = str(receiver.certificate)
    if mode == "rabbitmq":
        env["NSL_BUS_URL"] = os.environ.get("NSL_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    overrides: dict[str, Any] = {
        k.removeprefix("NSL_").lower(): v for k, v in env.items() if k.startswith("NSL_")
    }
    settings = Settings(**overrides)
    app = create_app(settings, clock=MovableClock())
    worker: asyncio.subprocess.Process | None = None
    try:
        async with app_client(app) as client:
            api = Api(app, client, MovableClock())
            tenant = await api.tenant("bench")
            names = [f"{mode}{n}" for n in range(args.subscriptions)]
            for name in names:
                await tenant.subscribe(["audit.security"], f"{base}/{name}")
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.subscriptions", "--worker", cwd=ROOT, env={**os.environ, **env}
            )
            # phase 1: a burst
            start = time.monotonic()
            ids: list[int] = []
            for offset in range(0, args.events, 500):
                ids += [
                    int(i) for i in await tenant.publish(*["audit.security"] * min(500, args.events - offset))
                ]
            expected = {(name, i) for name in names for i in ids}
            await receiver.wait_for(expected)
            last = max(receiver.first[key] for key in expected)
            throughput = len(expected) / (last - start)
            # phase 2: a steady stream
            committed: dict[int, float] = {}
            interval = 1 / args.rate
            next_at = time.monotonic()
            for _ in range(int(args.rate * args.seconds)):
                [event_id] = await tenant.publish("audit.security")
                committed[int(event_id)] = time.monotonic()
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            wanted = {(name, i) for name in names for i in committed}
            await receiver.wait_for(wanted)
            latencies = [receiver.first[(name, i)] - committed[i] for name, i in wanted]
    finally:
        if worker is not None and worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            await worker.wait()
        await _drop_database(admin_url, db_name)
    return {
        "mode": mode,
        "deliveries": len(expected),
        "events/s": throughput,
        "p50 ms": _pct(latencies, 0.5),
        "p99 ms": _pct(latencies, 0.99),
        "latency samples": len(latencies),
    }


async def worker_main() -> None:
    from neo_service_layer.bootstrap import open_container, worker_jobs
    from neo_service_layer.kernel.config import load_settings
    from neo_service_layer.kernel.worker.runner import run_jobs
    from neo_service_layer.registry import SERVICES

    settings = load_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_container(settings, "worker", migrate=False) as container:
        await run_jobs(
            container, worker_jobs(container, [s for s in SERVICES if s.name == "subscriptions"]), stop
        )


async def main(args: argparse.Namespace) -> None:
    receiver = Receiver(Path(tempfile.mkdtemp(prefix="nsl-bench-tls-")) if args.tls else None)
    base = await receiver.start()
    try:
        ref = await reference(
            base, args.events * args.subscriptions, args.subscriptions, receiver.client_tls()
        )
        rows = [await run_mode(mode, args, receiver, base) for mode in args.modes.split(",")]
    finally:
        await receiver.stop()
    load = os.getloadavg()[0]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n## Subscriptions end to end — {when} ({platform.node()[:20]}, {platform.machine()}, "
        f"{os.cpu_count()} cores, python {platform.python_version()}, PostgreSQL, one worker process, "
        f"webhooks over {'https' if args.tls else 'http'})\n"
    )
    print(
        f"{args.events} events x {args.subscriptions} subscriptions at once; "
        f"latency at {args.rate:g} events/s for {args.seconds:g} s\n"
    )
    print("| path | deliveries | events/s (deliveries/s) | latency p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['mode']} | {row['deliveries']} | {row['events/s']:.0f} | "
            f"{row['p50 ms']:.1f} | {row['p99 ms']:.1f} |"
        )
    for label in ("new connection", "keep-alive"):
        print(
            f"| reference: raw aiohttp POSTs, {label} | {args.events * args.subscriptions} | "
            f"{ref[f'{label} POSTs/s']:.0f} | {ref[f'{label} p50 ms']:.1f} | {ref[f'{label} p99 ms']:.1f} |"
        )
    print(f"\nload average (1 min) at the end: {load:.1f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--subscriptions", type=int, default=3)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--modes", default="embedded,rabbitmq")
    parser.add_argument("--tls", action="store_true", help="the receiver serves https (self-signed)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    asyncio.run(worker_main() if arguments.worker else main(arguments))
