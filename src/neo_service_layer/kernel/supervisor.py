"""``nsl run``: one foreground process that supervises every role on this machine.

Children run in their own session (so Ctrl-C reaches only the supervisor, which then stops them in
order) and carry ``PR_SET_PDEATHSIG`` (so even a SIGKILLed supervisor leaves no orphans). A child that
dies is restarted with backoff; on SIGINT/SIGTERM every child gets SIGTERM, then SIGKILL after a grace.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from neo_service_layer.kernel.observability.logs import get_logger

log = get_logger("nsl.supervisor")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: ask the kernel to SIGTERM us if the parent dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the session-based shutdown still applies


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: Mapping[str, str] = field(default_factory=dict)
    #: awaited after start; the next child starts only once this returns (e.g. a socket exists)
    ready: Callable[[], bool] | None = None


@dataclass
class _Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0


class Supervisor:
    def __init__(self, children: list[ChildSpec], *, grace_seconds: float = 15.0) -> None:
        self._children = [_Child(spec) for spec in children]
        self._grace = grace_seconds
        self._stopping = asyncio.Event()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            for child in self._children:
                await self._start(child)
                await self._wait_ready(child)
            watchers = [asyncio.create_task(self._watch(child)) for child in self._children]
            await self._stopping.wait()
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        finally:
            await self._stop_all()
        return 0

    async def _start(self, child: _Child) -> None:
        env = {**os.environ, **child.spec.env}
        child.process = await asyncio.create_subprocess_exec(
            *child.spec.argv,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only prctl: no locks taken after fork
        )
        log.info("started", child=child.spec.name, pid=child.process.pid)

    async def _wait_ready(self, child: _Child, timeout: float = 30.0) -> None:
        if child.spec.ready is None:
            return
        async with asyncio.timeout(timeout):
            while not child.spec.ready():
                if child.process is not None and child.process.returncode is not None:
                    raise RuntimeError(
                        f"{child.spec.name} exited with {child.process.returncode} while starting"
                    )
                await asyncio.sleep(0.05)

    async def _watch(self, child: _Child) -> None:
        while not self._stopping.is_set():
            assert child.process is not None
            code = await child.process.wait()
            if self._stopping.is_set():
                return
            child.restarts += 1
            delay = min(0.5 * 2 ** min(child.restarts - 1, 5), 15.0)
            log.warning("child exited; restarting", child=child.spec.name, code=code, in_seconds=delay)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                return
            except TimeoutError:
                await self._start(child)

    async def _stop_all(self) -> None:
        # Stop in reverse start order: the API first, the enclave last.
        for child in reversed(self._children):
            process = child.process
            if process is None or process.returncode is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=self._grace)
            except TimeoutError:
                log.warning("child did not stop in time; killing", child=child.spec.name)
                process.kill()
                await process.wait()
            log.info("stopped", child=child.spec.name, code=process.returncode)


def nsl_command(*args: str) -> list[str]:
    """argv that runs ``nsl <args>`` with this interpreter."""
    return [sys.executable, "-m", "neo_service_layer", *args]
