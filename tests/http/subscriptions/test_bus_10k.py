"""Issue #17's RabbitMQ test: 10,000 events to three loopback webhook endpoints through a real broker
and delivery workers running as their own processes (PostgreSQL: several processes write at once).

- ``/ok`` answers 204; ``/flaky`` 500 half of the time; ``/slow`` now and then answers only after the
  poster's timeout (0.3 s in the worker process, ``bus_worker``), with a retry schedule of milliseconds;
- mid-run a worker is killed with SIGKILL while it is sending (its delivery held open by the receiver),
  and a replacement is started; later the broker is restarted (``rabbitmqctl stop_app`` and
  ``start_app``: the connections drop, the durable queue and its persistent messages stay; where
  rabbitmqctl cannot, every connection is closed instead);
- every event reaches every endpoint, in order (the ids arrive in non-decreasing order), each id at
  most as many times as the service recorded attempts for it (a second arrival only for an attempt it
  counted: one that failed, timed out, or whose worker died), and every delivery row ends delivered.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.subscriptions.rules.signing import InvalidSignature, verify
from tests.http.appclient import app_client
from tests.http.keys.conftest import MovableClock
from tests.http.subscriptions.bus_support import bus_queue, rabbitmq_url
from tests.http.subscriptions.conftest import Api

__all__ = ["bus_queue", "rabbitmq_url"]  # fixtures

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EVENTS = 10_000
ENDPOINTS = ("ok", "flaky", "slow")
#: a guard against a hang only (the run takes well under it); never a timing assertion
HANG_GUARD_SECONDS = 1200.0
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Endpoints:
    secrets: dict[str, str] = field(default_factory=dict)
    arrivals: dict[str, list[int]] = field(default_factory=lambda: {name: [] for name in ENDPOINTS})
    unverified: int = 0
    #: set by the test: the next /slow request is held open until ``release`` (the kill)
    capture: bool = False
    held: int | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def endpoints() -> AsyncIterator[tuple[Endpoints, str]]:
    state = Endpoints()
    rng = random.Random(17)

    async def handle(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = await request.read()
        try:
            verify(state.secrets[name], dict(request.headers), body, now=int(time.time()))
        except (InvalidSignature, KeyError):
            state.unverified += 1
            return web.Response(status=401)
        event_id = int(request.headers["webhook-id"])
        state.arrivals[name].append(event_id)
        if name == "flaky" and rng.random() < 0.5:
            return web.Response(status=500)
        if name == "slow":
            if state.capture and state.held is None:
                state.held = event_id
                state.entered.set()
                await state.release.wait()
            elif rng.random() < 0.005:
                await asyncio.sleep(0.5)  # past the poster's 0.3 s: a failed attempt that arrived
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{name}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        state.release.set()
        await runner.cleanup()


@pytest.fixture
async def pg_api(
    subs_settings: Callable[..., Settings], postgres_url: str
) -> AsyncIterator[tuple[Api, Settings]]:
    settings = subs_settings(database_url=postgres_url, db_app_role="nsl_app")
    clock = MovableClock()
    app = create_app(settings, clock=clock)
    async with app_client(app) as client:
        yield Api(app, client, clock), settings


class Workers:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self._env = env
        self._logs = logs
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> asyncio.subprocess.Process:
        log = open(self._logs / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115 (the child owns it)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.http.subscriptions.bus_worker",
            cwd=ROOT,
            env=self._env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                async with asyncio.timeout(20):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _rabbitmqctl(*args: str) -> bool:
    if shutil.which("rabbitmqctl") is None:
        return False
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    async with asyncio.timeout(90):
        return await proc.wait() == 0


async def _restart_broker() -> str:
    """How the broker was restarted (stop_app/start_app, else every connection closed)."""
    if await _rabbitmqctl("stop_app"):
        started = await _rabbitmqctl("start_app")
        assert started, "rabbitmqctl start_app failed: the broker is left stopped"
        return "stop_app/start_app"
    assert await _rabbitmqctl("close_all_connections", "test: broker restart"), "cannot restart the broker"
    return "close_all_connections"


async def _delivered(api: Api) -> int:
    async with api.container.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text("SELECT count(*) FROM subscription_deliveries WHERE status = 'delivered'")
                )
            ).scalar_one()
        )


async def test_ten_thousand_events_through_rabbitmq_with_a_killed_worker_and_a_broker_restart(
    pg_api: tuple[Api, Settings],
    endpoints: tuple[Endpoints, str],
    rabbitmq_url: str,
    bus_queue: str,
    tmp_path: Path,
) -> None:
    api, settings = pg_api
    state, base = endpoints
    acme = await api.tenant("acme")
    subs: dict[str, str] = {}
    for name in ENDPOINTS:
        sub_id, secret = await acme.subscribe(["audit.security"], f"{base}/{name}")
        assert secret
        subs[name], state.secrets[name] = sub_id, secret
    ids: list[int] = []
    for _ in range(EVENTS // 500):
        ids += [int(i) for i in await acme.publish(*["audit.security"] * 500)]
    assert len(ids) == EVENTS

    env: dict[str, Any] = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NSL_")},
        "NSL_ENV": "test",
        "NSL_DATA_DIR": str(settings.data_dir),
        "NSL_DATABASE_URL": postgres_secret(settings),
        "NSL_DB_APP_ROLE": "nsl_app",
        "NSL_AUTO_MIGRATE": "false",
        "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1",
        "NSL_ORACLE_ALLOW_HTTP": "true",
        "NSL_BUS_URL": rabbitmq_url,
        "NSL_TEST_BUS_QUEUE": bus_queue,
        "NSL_LOG_LEVEL": "WARNING",
    }
    workers = Workers(env, tmp_path)
    started = time.monotonic()
    restarted = ""
    try:
        await workers.start()
        await workers.start()
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            # a third of the way: kill the worker that is sending the held /slow delivery
            while len(set(state.arrivals["slow"])) < EVENTS // 3:
                await asyncio.sleep(0.05)
            state.capture = True
            await state.entered.wait()
            async with api.container.engine.connect() as conn:
                holder = (
                    await conn.execute(
                        text(
                            "SELECT worker FROM subscription_deliveries"
                            " WHERE subscription_id = :s AND event_id = :e"
                        ),
                        {"s": subs["slow"], "e": state.held},
                    )
                ).scalar_one()
            pid = int(str(holder).rsplit("-", 1)[1])
            victim = next(p for p in workers.procs if p.pid == pid)
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            async with api.container.engine.connect() as conn:
                row = (
                    await conn.execute(
                        text(
                            "SELECT status, worker, lease_until FROM subscription_deliveries"
                            " WHERE subscription_id = :s AND event_id = :e"
                        ),
                        {"s": subs["slow"], "e": state.held},
                    )
                ).one()
            # killed mid-delivery: its claim is still held, unfinished
            assert (row.status, row.worker) == ("pending", holder)
            assert row.lease_until is not None
            state.release.set()
            await workers.start()  # a replacement joins the queue
            # two thirds of the way: restart the broker
            while len(set(state.arrivals["ok"])) < 2 * EVENTS // 3:
                await asyncio.sleep(0.05)
            restarted = await _restart_broker()
            while await _delivered(api) < EVENTS * len(ENDPOINTS):
                await asyncio.sleep(0.5)
    finally:
        elapsed = time.monotonic() - started
        await workers.stop()
    print(f"\n{EVENTS} events x {len(ENDPOINTS)} endpoints delivered in {elapsed:.1f} s; broker: {restarted}")

    async with api.container.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT subscription_id, event_id, status, attempts FROM subscription_deliveries")
            )
        ).all()
    attempts = {(r.subscription_id, int(r.event_id)): int(r.attempts) for r in rows}
    assert len(rows) == EVENTS * len(ENDPOINTS)
    assert {r.status for r in rows} == {"delivered"}
    assert state.unverified == 0
    for name in ENDPOINTS:
        arrivals = state.arrivals[name]
        assert set(arrivals) == set(ids), name  # every event, by id
        assert arrivals == sorted(arrivals), name  # in order: no earlier id after a later one
        counts = Counter(arrivals)
        extra = {i: n for i, n in counts.items() if n > attempts[(subs[name], i)]}
        assert extra == {}, (name, list(extra.items())[:5])  # a duplicate only for a recorded attempt
        print(f"{name}: {len(arrivals)} requests, {sum(n - 1 for n in counts.values())} repeated")
    assert state.held is not None
    assert Counter(state.arrivals["slow"])[state.held] >= 2  # sent again after the killed worker's lease


def postgres_secret(settings: Settings) -> str:
    assert settings.database_url is not None
    return settings.database_url.get_secret_value()
