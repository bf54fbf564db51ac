"""Kill anything, lose nothing: on-chain requests (randomness, our oracle, Neo's native Oracle answered by
our node: ``chaos_native.py``, automation pings: ``chaos_automation.py``) against a real stack while the
worker, the enclave, the neo-go node and, when the run has them, the API (``chaos_api.py``, whose client
also writes: ``chaos_writes.py``) and the PostgreSQL server (``pg_server.py``) are killed with SIGKILL at
seeded random points and brought back; then what the chain and the database hold is checked.

Shared by the small test (``test_chaos.py``, in ``make test``) and the benchmark (``bench/chaos.py``).
The chain is the truth: the requests are the request events on the final chain (a request sent while
the node died may or may not have made it; the driver sends another), each must have exactly one
"fulfilled" event, its row in the database must be delivered, and every outbox transaction must be
either on chain and HALTed (``included``) or never on chain (``expired``) (``chaos_checks.judge``).
Node kills land when every block the node made is on disk, unless ``durable_node_kills`` is off (the
benchmark's ``--lossy-node``; docs/reliability.md says what a single validator loses then).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field

from neo3.core import types
from sqlalchemy import text

from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings
from tests.e2e.chain.chaos_api import ApiClient, ApiReport
from tests.e2e.chain.chaos_automation import AutomationMix, AutomationReport
from tests.e2e.chain.chaos_checks import (
    ChainEvents,
    Verdict,
    judge,
    outbox_on_chain,
    request_rows,
    worker_errors,
)
from tests.e2e.chain.chaos_native import NativeMix, NativeReport
from tests.e2e.chain.chaos_processes import start_enclave, stop_when_persisted
from tests.e2e.chain.chaos_writes import ApiWrites
from tests.e2e.chain.oracle_support import WebServer, deploy_oracle_consumer, invoke
from tests.e2e.chain.pg_server import PgServer
from tests.e2e.chain.stack import Stack

TARGETS = ("worker", "enclave", "node")
#: also, when the run has them: "api" (``Chaos(api=...)``), "database" (``Chaos(database=...)``)
#: no kill is planned among the last requests (a kill waits for work in flight; meanwhile requests flow)
KILL_WINDOW = 8


@dataclass(frozen=True, slots=True)
class Kill:
    after_request: int  # fired once this many requests were started
    target: str
    delay: float  # seconds after that point (lands mid-flight)
    down: float  # seconds the process stays dead


def plan(seed: int, requests: int, kills: int, targets_of: tuple[str, ...] = TARGETS) -> list[Kill]:
    """A seeded schedule: each target in turn (shuffled), at distinct points of the run."""
    rng = random.Random(seed)
    targets = [targets_of[i % len(targets_of)] for i in range(kills)]
    rng.shuffle(targets)
    points = sorted(rng.sample(range(requests // 10, requests - KILL_WINDOW), kills))
    return [
        Kill(point, target, round(rng.uniform(0.0, 0.6), 2), round(rng.uniform(0.2, 1.2), 2))
        for point, target in zip(points, targets, strict=True)
    ]


#: when a kill of each target interrupts work, so that its recovery is what gets checked:
#: - worker: a signed transaction recorded in the outbox and not yet seen included (the new worker must
#:   send or resend the same bytes, never a second answer), or requests claimed under its lease;
#: - enclave: requests seen and not yet answered (their answers need the enclave's keys, which the
#:   restarted enclave gets back from the sealed records);
#: - node: transactions in flight (the node's memory pool dies with it: the relay must resend them) or
#:   requests not yet answered (the worker's calls fail until it is back; the watcher resumes at its cursor).
IN_FLIGHT = {
    "worker": "SELECT 1 FROM chain_outbox WHERE status = 'pending' UNION ALL "
    "SELECT 1 FROM chain_requests WHERE status = 'seen' AND lease_owner IS NOT NULL",
    "enclave": "SELECT 1 FROM chain_requests WHERE status = 'seen'",
    "node": "SELECT 1 FROM chain_outbox WHERE status = 'pending' UNION ALL "
    "SELECT 1 FROM chain_requests WHERE status IN ('seen', 'fulfilling')",
    # the database server: the worker's transactions in flight fail; what did not commit is not applied
    "database": "SELECT 1 FROM chain_outbox WHERE status = 'pending' UNION ALL "
    "SELECT 1 FROM chain_requests WHERE status IN ('seen', 'fulfilling')",
}
# the API: a client's call in flight (``ApiClient.in_flight``)


@dataclass
class Killed:
    target: str
    in_flight: bool  # the kill interrupted work (``IN_FLIGHT``)
    requests_pending: int  # recorded, not delivered, at the kill
    outbox_pending: int  # transactions pending at the kill
    seconds_down: float = 0.0
    rewritten: int = 0  # node only: blocks it had made and made again differently after the restart


@dataclass
class Report:
    seed: int
    sent: int = 0  # requests the driver got a receipt for
    extra: int = 0  # requests sent beyond the planned ones while a kill was still to land
    send_errors: int = 0  # sends that failed (node down...) and were sent again
    kills: list[Killed] = field(default_factory=list)
    verdict: Verdict = field(default_factory=Verdict)
    seconds: float = 0.0
    settle_seconds: float = 0.0
    #: error lines of the workers' and the enclave's logs, by event (a process down is a quiet warning)
    worker_errors: dict[str, int] = field(default_factory=dict)
    api: ApiReport | None = None
    automation: AutomationReport | None = None
    native: NativeReport | None = None


class Chaos:
    """One run over an open stack whose oracle may fetch from ``web`` (``/ticker``)."""

    def __init__(
        self,
        stack: Stack,
        web: WebServer,
        seed: int,
        *,
        durable_node_kills: bool = True,
        api: ApiClient | None = None,
        database: PgServer | None = None,
        automation: AutomationMix | None = None,
        native: NativeMix | None = None,
    ) -> None:
        self.stack = stack
        self.automation = automation
        self.native = native
        self.api = api
        if api is not None:  # its client writes too, all through the kills
            api.writes = ApiWrites(web)
        self.database = database
        self.durable_node_kills = durable_node_kills
        self.web = web
        self.report = Report(seed)
        self.worker: subprocess.Popen[bytes] | None = None
        self._before_kill: dict[int, str] = {}
        self._node_up = asyncio.Event()
        self._node_up.set()

    # processes -----------------------------------------------------------------------------

    async def kill(self, target: str, down: float) -> Killed:
        """SIGKILL ``target`` once it is mid-flight (``IN_FLIGHT``), keep it down ``down`` s, restart it."""
        if target == "api":
            assert self.api is not None
            fact = Killed(target, False, *(await self._pending()))
            began = time.monotonic()
            fact.in_flight = await self.api.kill(down)  # lands with a client's call in flight
        else:
            if target == "node" and self.durable_node_kills:
                landed, counts = await self._stop_node_in_flight()
            else:
                landed, counts = await self._wait_in_flight(target)
            fact = Killed(target, landed, *counts)
            began = time.monotonic()
        if target == "database":
            assert self.database is not None
            self.database.kill()
            await asyncio.sleep(down)
            await self.database.start()
        elif target == "worker":
            assert self.worker is not None
            self.worker.kill()
            self.worker.wait(timeout=10)
            await asyncio.sleep(down)
            self.worker = self.stack.start_worker()
        elif target == "enclave":
            self.stack.enclave.kill()
            self.stack.enclave.wait(timeout=10)
            await asyncio.sleep(down)
            self.stack.enclave = await start_enclave(self.stack)
        elif target == "node":
            fact.rewritten = await self._kill_node(down)
        fact.seconds_down = time.monotonic() - began
        self.report.kills.append(fact)
        return fact

    async def _kill_node(self, down: float) -> int:
        """SIGKILL the node and start it again on its data; how many of its last blocks it made anew.

        neo-go writes its blocks to disk about once a second, so a SIGKILL at any moment loses the
        blocks made since (a single validator then makes different ones at those heights: no real
        network with several validators loses a committed block). With ``durable_node_kills`` the kill
        lands while the node is stopped (SIGSTOP) at a point where every block it made is on disk.
        """
        self._node_up.clear()
        net = self.stack.net
        before = self._before_kill if self.durable_node_kills else await self._block_hashes(12)
        assert net.pid is not None
        os.kill(net.pid, signal.SIGKILL)
        await net.stop()  # reaps it and waits for the RPC port to be free
        await asyncio.sleep(down)
        restarted = Privnet(
            PrivnetSettings(data_dir=net.data_dir, rpc_port=net.rpc_port, block_time=net.settings.block_time)
        )
        await restarted.start()
        self.stack.net = restarted
        self._node_up.set()
        after = await self._block_hashes(12, upto=max(before, default=0))
        return sum(1 for index, block_hash in before.items() if after.get(index) != block_hash)

    async def _block_hashes(self, n: int, upto: int | None = None) -> dict[int, str]:
        endpoint = NeoRpcEndpoint(self.stack.net.rpc_url)
        try:
            head = int(await endpoint.client.get_block_count()) - 1
            if upto is not None:
                while head < upto:  # the restarted node makes the blocks it lost again
                    await asyncio.sleep(0.05)
                    head = int(await endpoint.client.get_block_count()) - 1
                head = upto
            return {
                i: str(await endpoint.post("getblockhash", [i]))
                for i in range(max(0, head - n + 1), head + 1)
            }
        finally:
            await endpoint.close()

    async def _pending(self) -> tuple[int, int]:
        """(requests recorded but not delivered, outbox transactions pending)."""
        _, requests, outbox = await self._snapshot("SELECT 1 WHERE 1 = 0")
        return requests, outbox

    async def _snapshot(self, in_flight: str) -> tuple[bool, int, int]:
        """Whether ``in_flight`` finds a row, with the pending counts, read in one statement.

        One statement is one snapshot: separate queries let work finish between them, so a kill
        seen in flight could be recorded with nothing pending.
        """
        query = (
            f"SELECT EXISTS ({in_flight}), "
            "(SELECT count(*) FROM chain_requests WHERE status != 'delivered'), "
            "(SELECT count(*) FROM chain_outbox WHERE status = 'pending')"
        )
        async with self.stack.engine.connect() as conn:
            row = (await conn.execute(text(query))).one()
        return bool(row[0]), int(row[1] or 0), int(row[2] or 0)

    async def _stop_node_in_flight(self, timeout: float = 10.0) -> tuple[bool, tuple[int, int]]:
        """Leave the node SIGSTOPped with every block on disk while work is in flight (or the timeout)."""
        net = self.stack.net
        assert net.pid is not None
        self._before_kill = await self._block_hashes(12)
        deadline = time.monotonic() + timeout
        while True:
            await stop_when_persisted(net)
            landed, requests, outbox = await self._snapshot(IN_FLIGHT["node"])
            if landed or time.monotonic() > deadline:
                return landed, (requests, outbox)
            os.kill(net.pid, signal.SIGCONT)
            await asyncio.sleep(0.02)

    async def _wait_in_flight(self, target: str, timeout: float = 10.0) -> tuple[bool, tuple[int, int]]:
        """Wait until killing ``target`` interrupts work (see ``IN_FLIGHT``): whether it did, and the
        pending counts seen with it."""
        deadline = time.monotonic() + timeout
        while True:
            landed, requests, outbox = await self._snapshot(IN_FLIGHT[target])
            if landed or time.monotonic() > deadline:
                return landed, (requests, outbox)
            await asyncio.sleep(0.01)

    # the run -------------------------------------------------------------------------------

    async def run(
        self,
        requests: int,
        kills: list[Kill],
        *,
        concurrency: int = 4,
        pace: float = 0.2,
        settle_timeout: float = 60.0,
    ) -> Report:
        """Send ``requests`` (one started every ``pace`` s, at most ``concurrency`` in flight) while the
        ``kills`` happen, then wait (at most ``settle_timeout``) for every request to be answered."""
        began = time.monotonic()
        dice = await self.stack.deploy_consumer("dice_consumer", gas=1000 + 20 * requests)
        prices = await deploy_oracle_consumer(self.stack, "price_consumer", gas=1000 + 20 * requests)
        self.web.set("/ticker", {"price": 42})
        if self.automation is not None:  # a third of the requests are pings its upkeep performs
            await self.automation.setup(requests)
        if self.native is not None:  # every sixth request asks Neo's native Oracle
            await self.native.setup()
        first_block = await self._height()
        self.worker = self.stack.start_worker()
        driving = None
        if self.api is not None:  # API clients call it all along, kills or not
            await self.api.start()
            driving = asyncio.create_task(self.api.drive())
        gate = asyncio.Semaphore(concurrency)
        schedule = sorted(kills, key=lambda k: k.after_request)
        killers: list[asyncio.Task[None]] = []
        senders: list[asyncio.Task[None]] = []
        for index in range(requests):
            await asyncio.sleep(pace)
            await gate.acquire()
            while schedule and schedule[0].after_request <= index + 1:
                k = schedule.pop(0)
                killers.append(asyncio.create_task(self._kill_later(k, killers[-1] if killers else None)))
            senders.append(asyncio.create_task(self._send(self._kind(index), dice, prices, gate)))
        while not all(killer.done() for killer in killers):  # kills land while requests still flow
            await asyncio.sleep(pace)
            await gate.acquire()
            self.report.extra += 1
            senders.append(asyncio.create_task(self._send(self._kind(self.report.extra), dice, prices, gate)))
        await asyncio.gather(*senders)
        await asyncio.gather(*killers)
        sent_done = time.monotonic()
        await self._settle(first_block, settle_timeout)
        self.report.settle_seconds = time.monotonic() - sent_done
        if self.api is not None and driving is not None:
            self.api.halt()
            await driving
            self.report.api = await self.api.check(self.events.requested)
        self.report.seconds = time.monotonic() - began
        return self.report

    async def _kill_later(self, k: Kill, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await previous  # one process down at a time: each kill checks its own recovery
        await asyncio.sleep(k.delay)
        await self.kill(k.target, k.down)

    def _kind(self, index: int) -> str:
        if self.native is not None and index % 6 == 3:
            return "native"
        if self.automation is not None and index % 3 == 2:
            return "ping"
        return "dice" if index % 2 == 0 else "oracle"

    async def _send(
        self, kind: str, dice: types.UInt160, prices: types.UInt160, gate: asyncio.Semaphore
    ) -> None:
        last: Exception | None = None
        try:
            for _ in range(20):
                await self._node_up.wait()
                try:
                    if kind == "dice":
                        await self.stack.roll(dice)
                    elif kind == "ping" and self.automation is not None:
                        await self.automation.ping()
                    elif kind == "native" and self.native is not None:
                        await self.native.request()
                    else:
                        await invoke(self.stack, prices, "requestPrice", self.web.url("/ticker"), "$.price")
                except Exception as exc:  # the node died under the send: it may or may not have landed
                    self.report.send_errors += 1
                    last = exc
                    await asyncio.sleep(0.3)
                    continue
                self.report.sent += 1
                return
            raise AssertionError(f"a request could not be sent in 20 attempts: {last!r}")
        finally:
            gate.release()

    async def _height(self) -> int:
        endpoint = NeoRpcEndpoint(self.stack.net.rpc_url)
        try:
            return int(await endpoint.client.get_block_count()) - 1
        finally:
            await endpoint.close()

    # checking ------------------------------------------------------------------------------

    async def _settle(self, first_block: int, timeout: float) -> None:
        """Wait (at most ``timeout``) until every request on chain is delivered, then judge."""
        deadline = time.monotonic() + timeout
        events = ChainEvents()
        while True:
            await events.read(self.stack, first_block)
            rows = await request_rows(self.stack)
            if self.automation is not None:
                self.report.automation = await self.automation.read(first_block)
            ran = self.report.automation is None or (
                not self.report.automation.missing  # every ping performed, and recorded delivered
                and all(status == "delivered" for service, _, status, _ in rows if service == "automation")
            )
            if (events.settled(rows) and ran) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        self.events = events
        self.report.verdict = judge(events, rows, await outbox_on_chain(self.stack))
        if self.native is not None:
            self.report.native = await self.native.read(first_block)
        self.report.worker_errors = worker_errors(self.stack)
