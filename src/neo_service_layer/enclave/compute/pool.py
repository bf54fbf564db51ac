"""Runs functions in worker processes of the enclave, so that no function can hold up or bring down the
enclave process.

wasmtime stops a function that computes past its wall time (epoch interruption), but not one blocked in
a host call: WASI's ``poll`` on a clock (Python's ``time.sleep``, JavaScript timers) sleeps inside
wasmtime for as long as asked. A crash of the runtime (an abort) would take the whole process with it.
So each run goes to a worker process; a worker that has not answered ``grace`` seconds after the run's
wall time is killed (the run is a ``TIMEOUT``) and replaced; one that died is a ``TRAP``. The workers are
part of the enclave: they read the artefacts the enclave compiled and sealed, hold the secret values of
the run they are given, and fetch through the same guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from neo_service_layer.enclave.compute import sandbox
from neo_service_layer.enclave.compute.artifacts import ComputeEngine
from neo_service_layer.enclave.compute.host import RunHost, SecretValue
from neo_service_layer.enclave.compute.limits import RunLimits
from neo_service_layer.enclave.fetch import Fetcher, default_ssl_context
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.compute import ComputeCode

log = logging.getLogger(__name__)

#: how long past its wall time a worker may take to answer before it is killed
GRACE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker process is started with (sent to it once, over its pipe)."""

    #: the derived key of ``SealUse.ENCLAVE_STATE`` only: the worker opens compiled artefacts, nothing else
    state_key: bytes
    cache_dir: str
    policy: GuardPolicy
    ca_file: str | None


@dataclass(frozen=True, slots=True)
class RunRequest:
    digest: bytes
    input_text: str
    limits: RunLimits
    secrets: dict[str, SecretValue]


class ArtifactMissing(Exception):
    """The worker found no sealed compiled form of the artefact."""


def _exit_with_parent(parent: int) -> None:
    """End this worker when the enclave process is gone (killed: nobody closes the pipe of a run that
    sleeps), so no orphan outlives it."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _worker_main(conn: Connection, config: WorkerConfig) -> None:
    """A worker process: run what arrives on ``conn`` until it closes."""
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="compute-parent", daemon=True
    ).start()
    sealer = Sealer.single_use(SealUse.ENCLAVE_STATE, config.state_key)
    engine = ComputeEngine(sealer, Path(config.cache_dir))
    ca_file = Path(config.ca_file) if config.ca_file else None
    fetcher = Fetcher(config.policy, ssl_context=default_ssl_context(ca_file))
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="compute-fetch", daemon=True).start()
    try:
        while True:
            try:
                request: RunRequest = conn.recv()
            except (EOFError, OSError):
                return
            artifact = engine.get(request.digest)
            if artifact is None:
                conn.send(("missing", None))
                continue
            host = RunHost(
                limits=request.limits,
                secret_values=request.secrets,
                fetcher=fetcher,
                loop=loop,
                deadline=time.monotonic() + request.limits.wall_ms / 1000,
            )
            conn.send(("ok", sandbox.run(engine, artifact, request.input_text, host, request.limits)))
    finally:
        engine.close()


class _Worker:
    def __init__(self, context: multiprocessing.context.SpawnContext, config: WorkerConfig) -> None:
        parent, child = context.Pipe()
        self.conn: Connection = parent
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child, config), name="nsl-compute", daemon=True
        )
        self.process.start()
        child.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class SandboxPool:
    """``size`` worker processes, started when first needed, replaced when killed or dead."""

    def __init__(self, config: WorkerConfig, size: int) -> None:
        self._config = config
        self._size = size
        self._context = multiprocessing.get_context("spawn")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: list[_Worker] = []

    async def _take(self) -> _Worker:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self._size):
                self._idle.put_nowait(await asyncio.to_thread(self._spawn))
        return await self._idle.get()

    def _spawn(self) -> _Worker:
        worker = _Worker(self._context, self._config)
        self._workers.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop()
        self._workers.remove(worker)
        return self._spawn()

    async def run(self, request: RunRequest) -> sandbox.Outcome:
        """The run's outcome; ``ArtifactMissing`` if the workers cannot read the compiled artefact."""
        worker = await self._take()
        started = time.monotonic()
        try:
            outcome = await self._ask(worker, request)
        except TimeoutError:
            worker = await asyncio.to_thread(self._replace, worker)
            outcome = _stopped(
                ComputeCode.TIMEOUT,
                f"time limit reached: wall_ms = {request.limits.wall_ms} (the run was blocked, and stopped)",
                started,
            )
        except (EOFError, OSError):
            worker = await asyncio.to_thread(self._replace, worker)
            log.warning("a compute worker process ended during a run; it was replaced")
            outcome = _stopped(ComputeCode.TRAP, "the function's sandbox process ended abnormally", started)
        finally:
            assert self._idle is not None
            self._idle.put_nowait(worker)
        return outcome

    async def _ask(self, worker: _Worker, request: RunRequest) -> sandbox.Outcome:
        await asyncio.to_thread(worker.conn.send, request)
        wait = request.limits.wall_ms / 1000 + GRACE_SECONDS
        if not await asyncio.to_thread(worker.conn.poll, wait):
            raise TimeoutError
        kind, outcome = await asyncio.to_thread(worker.conn.recv)
        if kind == "missing":
            raise ArtifactMissing
        assert isinstance(outcome, sandbox.Outcome)
        return outcome

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()


def _stopped(code: ComputeCode, detail: str, started: float) -> sandbox.Outcome:
    return sandbox.Outcome(code, b"", detail, 0, int((time.monotonic() - started) * 1000), 0, "")


def worker_config(sealer: Sealer, cache_dir: Path, fetcher: Fetcher, ca_file: Path | None) -> WorkerConfig:
    return WorkerConfig(
        sealer.use_key(SealUse.ENCLAVE_STATE),
        str(cache_dir),
        fetcher.policy,
        str(ca_file) if ca_file else None,
    )
