"""Worker jobs of the chain services: watch + fulfil (every poll), outbox relay, sender balance."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

from neo_service_layer.bootstrap import Container
from neo_service_layer.entrypoints.worker.jobs import PeriodicJob
from neo_service_layer.observability.logs import get_logger
from neo_service_layer.ports.chain import ChainUnavailable
from neo_service_layer.services.randomness import worker_identity

log = get_logger("nsl.chain")

BALANCE_INTERVAL = timedelta(seconds=10)
#: at most one "chain unreachable" log line per this many seconds per job
_QUIET_SECONDS = 10.0


class _Quiet:
    """Turns repeated ``ChainUnavailable`` into one warning per interval instead of one per poll."""

    def __init__(self, job: str) -> None:
        self._job = job
        self._last = 0.0

    def unavailable(self, exc: ChainUnavailable) -> None:
        now = time.monotonic()
        if now - self._last >= _QUIET_SECONDS:
            self._last = now
            log.warning("chain unreachable; retrying", job=self._job, error=str(exc))


def chain_jobs(container: Container) -> list[PeriodicJob]:
    """The chain jobs for this worker (none when no network or no service keys are configured)."""
    parts = container.chain_parts
    if parts is None:
        log.info("no Neo network configured: chain jobs are off")
        return []
    watcher = parts.watcher()
    fulfiller = parts.fulfiller(worker_identity())
    if watcher is None or fulfiller is None:
        log.warning("randomness contract or service keys missing: chain jobs are off")
        return []
    relay = parts.relay()
    quiet_watch, quiet_relay = _Quiet("randomness"), _Quiet("randomness-outbox")

    async def watch_and_fulfil() -> None:
        try:
            await watcher.poll()
            while await fulfiller.run_once():
                pass
        except ChainUnavailable as exc:
            quiet_watch.unavailable(exc)

    async def relay_outbox() -> None:
        try:
            await relay.run_once()
        except ChainUnavailable as exc:
            quiet_relay.unavailable(exc)

    async def balance() -> None:
        with contextlib.suppress(ChainUnavailable):
            parts.metrics.sender_gas.set(await parts.chain.gas_balance() / 10**8)
        parts.metrics.endpoints(parts.chain.pool.health)

    interval = timedelta(seconds=parts.poll_interval)
    return [
        PeriodicJob("randomness", interval, watch_and_fulfil),
        PeriodicJob(
            "randomness-outbox", timedelta(seconds=max(parts.network.block_time / 2, 0.05)), relay_outbox
        ),
        PeriodicJob("chain-balance", BALANCE_INTERVAL, balance),
    ]
