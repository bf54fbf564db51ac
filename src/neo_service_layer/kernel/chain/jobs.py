"""Worker jobs of the chain pipeline: watch + fulfil and the outbox relay for one service, the sender's
balance. Each on-chain service asks for its jobs with :func:`watch_jobs` (its ``service`` module)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from neo_service_layer.kernel.chain.parts import ChainKernel
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.chain.use_cases.watcher import PollResult
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.worker.jobs import PeriodicJob

if TYPE_CHECKING:
    from neo_service_layer.kernel.chain.evm_parts import EvmKernel

log = get_logger("nsl.chain")

BALANCE_INTERVAL = timedelta(seconds=10)
#: at most one "chain unreachable" log line per this many seconds per job
_QUIET_SECONDS = 10.0


class Watcher(Protocol):
    async def poll(self) -> object:
        """Read the blocks after the cursor and record what they hold."""
        ...


def read_blocks(polled: object) -> bool:
    """Whether a watcher's poll read a block (``PollResult.processed``, or the count a poll returns)."""
    if isinstance(polled, PollResult):
        return polled.processed > 0
    return not isinstance(polled, int) or polled > 0


class Sweep:
    """When to claim though no block was read: work another replica left, leases run out, releases.

    New requests are recorded from new blocks, and the fulfiller runs in the same tick as the block is
    read. Without a new block, claiming every poll (ten times a block, a write transaction each) found
    nothing nearly always, so the fulfiller runs then at most every ``every`` seconds.
    """

    def __init__(self, every: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._monotonic = monotonic
        self._last: float | None = None

    def due(self, read_blocks: bool) -> bool:
        now = self._monotonic()
        if read_blocks or self._last is None or now - self._last >= self._every:
            self._last = now
            return True
        return False


class Fulfiller(Protocol):
    async def run_once(self) -> int:
        """Claim and answer what is waiting; return how many requests were claimed."""
        ...


class Quiet:
    """Turns a repeated "cannot proceed now" error into one warning per interval instead of one per poll."""

    def __init__(self, job: str) -> None:
        self._job = job
        self._last = 0.0

    def unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last >= _QUIET_SECONDS:
            self._last = now
            log.warning(
                "chain job cannot proceed; retrying", job=self._job, reason=type(exc).__name__, error=str(exc)
            )


def watch_jobs(
    chain: ChainKernel,
    service: str,
    watcher: Watcher,
    fulfiller: Fulfiller,
    *,
    quiet: tuple[type[Exception], ...] = (ChainUnavailable,),
) -> list[PeriodicJob]:
    """The two jobs of an on-chain service: watch its contract then fulfil, and relay its outbox.

    ``quiet`` lists the exception types that mean "the chain (or this node's role on it) is not available
    now": logged once per interval; anything else propagates to the worker loop, which logs it. An
    enclave that is down (restarting) is always quiet too: without it every poll (a tenth of a block)
    logged a traceback until it was back (found by the chaos test, ``docs/reliability.md``).
    """
    quiet = (*quiet, EnclaveUnavailable)
    relay = chain.relay(service)
    quiet_watch, quiet_relay = Quiet(service), Quiet(f"{service}-outbox")
    sweep = Sweep(max(chain.network.block_time / 2, chain.poll_interval))

    async def watch_and_fulfil() -> None:
        try:
            if sweep.due(read_blocks(await watcher.poll())):
                while await fulfiller.run_once():
                    pass
        except quiet as exc:
            quiet_watch.unavailable(exc)

    async def relay_outbox() -> None:
        try:
            await relay.run_once()
        except (ChainUnavailable, EnclaveUnavailable) as exc:
            quiet_relay.unavailable(exc)

    interval = timedelta(seconds=chain.poll_interval)
    relay_interval = timedelta(seconds=max(chain.network.block_time / 2, 0.05))
    return [
        PeriodicJob(service, interval, watch_and_fulfil),
        PeriodicJob(f"{service}-outbox", relay_interval, relay_outbox),
    ]


class Relay(Protocol):
    async def run_once(self) -> object:
        """Send, resend, replace or settle what the outbox holds."""
        ...


def evm_watch_jobs(
    evm: EvmKernel, service: str, watcher: Watcher, fulfiller: Fulfiller, relay: Relay
) -> list[PeriodicJob]:
    """The two jobs of a service on an EVM chain: watch its contract then fulfil, and relay its outbox.

    As on Neo N3, the fulfiller claims in the tick that read a block, else every two poll intervals.
    A node that does not answer (``ChainUnavailable``) or an enclave that is down is one warning per
    interval, as on Neo N3.
    """
    quiet = (ChainUnavailable, EnclaveUnavailable)
    quiet_watch, quiet_relay = Quiet(service), Quiet(f"{service}-outbox")
    sweep = Sweep(evm.poll_interval * 2)

    async def watch_and_fulfil() -> None:
        try:
            if sweep.due(read_blocks(await watcher.poll())):
                while await fulfiller.run_once():
                    pass
        except quiet as exc:
            quiet_watch.unavailable(exc)

    async def relay_outbox() -> None:
        try:
            await relay.run_once()
        except quiet as exc:
            quiet_relay.unavailable(exc)

    interval = timedelta(seconds=evm.poll_interval)
    return [
        PeriodicJob(service, interval, watch_and_fulfil),
        PeriodicJob(f"{service}-outbox", interval * 2, relay_outbox),
    ]


def balance_job(chain: ChainKernel) -> PeriodicJob:
    """The sender's GAS balance and the RPC endpoints' health, as metrics."""

    async def balance() -> None:
        with contextlib.suppress(ChainUnavailable):
            chain.metrics.sender_gas.set(await chain.chain.gas_balance() / 10**8)
        chain.metrics.endpoints(chain.chain.pool.health)

    return PeriodicJob("chain-balance", BALANCE_INTERVAL, balance)
