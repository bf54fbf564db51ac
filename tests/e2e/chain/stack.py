"""A whole local installation for end-to-end tests: neo-go privnet (100 ms blocks), the real enclave
process, a SQLite (or PostgreSQL) database, workers in process or as ``nsl worker`` subprocesses.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo3.api.wrappers import GenericContract
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.bootstrap import chain_hooks, open_container
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact, provision
from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.adapters.network import NetworkFile
from neo_service_layer.kernel.chain.adapters.payloads import RequestPayloads
from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings, find_free_port
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.adapters.role_key_store import SqlRoleKeyStore
from neo_service_layer.kernel.chain.adapters.tables import chain_outbox
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.sealed_records import sealed_record_loader
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.use_cases import SERVICE, RandomnessRequest

BLOCK_TIME = 0.1
TOKEN = "e2e-enclave-token-0123456789"


def call(contract: types.UInt160, method: str, *args: Any) -> Any:
    return GenericContract(contract).call_function(method, list(args) if args else None)


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Stack:
    directory: Path
    settings: Settings
    env: dict[str, str]
    net: Privnet
    enclave: subprocess.Popen[bytes]
    network: NetworkFile
    engine: AsyncEngine
    committee: deploy.AccountInvoker
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def service(self) -> types.UInt160:
        return uint160(self.network.contracts["randomness"])

    @property
    def contract(self) -> str:
        return self.network.contracts["randomness"]

    async def deploy_consumer(self, name: str, gas: int = 100) -> types.UInt160:
        nef, manifest = artifact(name)
        consumer = await deploy.deploy_contract(self.committee, nef, manifest, self.service)
        if gas:
            await self.top_up(consumer, gas)
        return consumer

    async def top_up(self, consumer: types.UInt160, gas: int) -> None:
        await self.committee.invoke(
            call(
                CONTRACT_HASHES.GAS_TOKEN,
                "transfer",
                self.committee.script_hash,
                self.service,
                gas * deploy.GAS,
                consumer,
            )
        )

    async def roll(self, dice: types.UInt160) -> tuple[int, int]:
        """(request id, block) of a new dice roll."""
        # concurrent rolls change storage sizes between dry-run and block: a little headroom
        receipt = await self.committee.invoke(call(dice, "roll"), append_system_fee=deploy.GAS // 20)
        return receipt.result.stack[0].as_int(), receipt.included_in_block

    async def read(self, contract: types.UInt160, method: str, *args: Any) -> Any:
        receipt = await self.committee.test(call(contract, method, *args))
        assert receipt.result.state == "HALT", receipt.result.exception
        return receipt.result.stack[0]

    def requests[Q, A](self, payloads: RequestPayloads[Q, A]) -> SqlRequestStore[Q, A]:
        """A service's view of the stored requests (``payloads``: the service's own table)."""
        return SqlRequestStore(self.engine, payloads)

    async def request(self, request_id: int) -> RandomnessRequest | None:
        return await self.requests(RandomnessPayloads()).get(SERVICE, self.contract, request_id)

    async def wait_status(
        self, request_id: int, *statuses: RequestStatus, timeout: float = 15.0
    ) -> RandomnessRequest:
        async def done() -> bool:
            row = await self.request(request_id)
            return row is not None and row.status in statuses

        await wait_for(done, timeout, f"request {request_id} to be {[s.value for s in statuses]}")
        row = await self.request(request_id)
        assert row is not None
        return row

    async def outbox_count(self) -> int:
        engine = create_engine(self.settings)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(chain_outbox))).scalar() or 0)
        finally:
            await engine.dispose()

    def start_worker(self, **extra_env: str) -> subprocess.Popen[bytes]:
        with (self.directory / f"worker-{len(self.workers)}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "neo_service_layer", "worker"],
                env={**self.env, **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(process)
        return process

    def stop_processes(self) -> None:
        for process in [*self.workers, self.enclave]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, self.enclave]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    async def fulfilled_events(self, first_block: int) -> dict[int, int]:
        """How many ``RandomnessFulfilled`` events each request id got on chain since ``first_block``."""
        from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint

        endpoint = NeoRpcEndpoint(self.net.rpc_url)
        counts: dict[int, int] = {}
        try:
            head = await endpoint.client.get_block_count() - 1
            for index in range(first_block, head + 1):
                events, _ = await endpoint.block_events(index, self.contract)
                for event in events:
                    if event.name == "RandomnessFulfilled" and event.halted:
                        counts[int(event.values[0])] = counts.get(int(event.values[0]), 0) + 1
        finally:
            await endpoint.close()
        return counts


def _enclave_up(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


async def open_stack(
    database_url: str | None = None,
    block_time: float = BLOCK_TIME,
    privnet: type[Privnet] = Privnet,
    **settings_overrides: Any,
) -> Stack:
    directory = Path(tempfile.mkdtemp(prefix="nsl-e2e-"))  # short: Unix socket paths are limited
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_") or k.startswith("NSL_TEST_")}
    env.update(
        NSL_DATA_DIR=str(directory),
        NSL_ENCLAVE_SOCKET=str(directory / "e.sock"),
        NSL_ENCLAVE_TOKEN=TOKEN,
        NSL_ENV="test",
        NSL_NEO_BLOCK_TIME_SECONDS=str(block_time),
        NSL_NEO_LOCAL_RPC_PORT=str(port),
        NSL_NEO_LEASE_SECONDS="2",
        NSL_NEO_VALID_UNTIL_BLOCKS="10",
        NSL_LOG_FORMAT="json",
    )
    if database_url:
        env["NSL_DATABASE_URL"] = database_url
    for key, value in settings_overrides.items():
        env[f"NSL_{key.upper()}"] = str(value)
    values = {
        k[4:].lower(): v for k, v in env.items() if k.startswith("NSL_") and not k.startswith("NSL_TEST_")
    }
    if "feeds" in values:  # JSON in the environment (NSL_FEEDS); the constructor takes the list itself
        values["feeds"] = json.loads(values["feeds"])
    settings = Settings(**values)
    with (directory / "enclave.log").open("ab") as log:
        enclave = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "enclave"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while not _enclave_up(directory / "e.sock"):
        assert enclave.poll() is None, (directory / "enclave.log").read_text()
        assert time.monotonic() < deadline, "the enclave did not start listening"
        await asyncio.sleep(0.05)
    net = privnet(PrivnetSettings(data_dir=directory / "chain", rpc_port=port, block_time=block_time))
    await net.start()
    engine = create_engine(settings)
    await upgrade_to_head(engine)
    client = EnclaveClient.from_settings(settings, loader=sealed_record_loader(engine))
    try:
        provisioned = await provision(
            settings, net, client, SqlRoleKeyStore(engine), SystemClock(), chain_hooks()
        )
    finally:
        await client.close()
    facade = deploy.make_facade(net.rpc_url, block_time)
    committee = deploy.committee_invoker(facade, block_time)
    return Stack(directory, settings, env, net, enclave, provisioned.network, engine, committee)


async def close_stack(stack: Stack) -> None:
    stack.stop_processes()
    await stack.net.stop()
    await stack.engine.dispose()


async def tenant_api_key(stack: Stack, name: str, scopes: Sequence[str]) -> str:
    """A new tenant ``name`` and an API key of its owner holding ``scopes``, written through the services
    (as the CLI would)."""
    async with open_container(stack.settings, "cli", migrate=False) as container:
        catalogue = container.iam.scope_catalogue
        admin = Principal(
            PLATFORM_TENANT, f"usr_{name}", PrincipalKind.USER, frozenset({SUPERADMIN}), catalogue.all_scopes
        )
        tenant = await container.iam.identity.create_tenant(admin, name)
        owner = Principal(
            tenant.id, f"usr_{name}", PrincipalKind.USER, frozenset({"owner"}), catalogue.tenant_scopes
        )
        _, key = await container.iam.api_keys.create(owner, tenant.id, name=name, scopes=list(scopes))
    return key


async def sql(stack: Stack, statement: str) -> list[Any]:
    engine = create_engine(stack.settings)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(statement))).all())
    finally:
        await engine.dispose()


class InProcessWorker:
    """``run_worker`` as a task of the test's event loop (faster to start than a subprocess)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> InProcessWorker:
        from neo_service_layer.bootstrap import run_worker

        self._task = asyncio.create_task(run_worker(self._settings, self._stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task
