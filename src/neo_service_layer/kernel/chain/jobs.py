"""Worker jobs of the chain services: watch + fulfil (every poll) and outbox relay for randomness and the
oracle, price feed rounds, sender balance."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

from neo_service_layer.bootstrap import Container
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.chain.setup import ChainParts
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.native_oracle.ports import NotAnOracleNode
from neo_service_layer.services.native_oracle.use_cases import NativeOracleFulfiller
from neo_service_layer.services.oracle.use_cases.fulfilment import OracleFulfiller
from neo_service_layer.services.randomness.use_cases import RandomnessFulfiller, worker_identity
from neo_service_layer.services.secrets.rules import Consumer

log = get_logger("nsl.chain")

BALANCE_INTERVAL = timedelta(seconds=10)
#: at most one "chain unreachable" log line per this many seconds per job
_QUIET_SECONDS = 10.0


class _Quiet:
    """Turns repeated ``ChainUnavailable`` into one warning per interval instead of one per poll."""

    def __init__(self, job: str) -> None:
        self._job = job
        self._last = 0.0

    def unavailable(self, exc: ChainUnavailable | NotAnOracleNode) -> None:
        now = time.monotonic()
        if now - self._last >= _QUIET_SECONDS:
            self._last = now
            what = "not a designated oracle node" if isinstance(exc, NotAnOracleNode) else "chain unreachable"
            log.warning(f"{what}; retrying", job=self._job, error=str(exc))


def chain_jobs(container: Container) -> list[PeriodicJob]:
    """The chain jobs for this worker (none when no network or no service keys are configured)."""
    parts = container.chain_parts
    if parts is None:
        log.info("no Neo network configured: chain jobs are off")
        return []
    jobs = (
        randomness_jobs(parts) + oracle_jobs(container, parts) + native_oracle_jobs(parts) + feed_jobs(parts)
    )
    if not jobs:
        return []

    async def balance() -> None:
        with contextlib.suppress(ChainUnavailable):
            parts.metrics.sender_gas.set(await parts.chain.gas_balance() / 10**8)
        parts.metrics.endpoints(parts.chain.pool.health)

    return [*jobs, PeriodicJob("chain-balance", BALANCE_INTERVAL, balance)]


def _watch_jobs(
    parts: ChainParts,
    service: str,
    watcher: ChainWatcher,
    fulfiller: RandomnessFulfiller | OracleFulfiller | NativeOracleFulfiller,
) -> list[PeriodicJob]:
    relay = parts.relay(service)
    quiet_watch, quiet_relay = _Quiet(service), _Quiet(f"{service}-outbox")

    async def watch_and_fulfil() -> None:
        try:
            await watcher.poll()
            while await fulfiller.run_once():
                pass
        except (ChainUnavailable, NotAnOracleNode) as exc:
            quiet_watch.unavailable(exc)

    async def relay_outbox() -> None:
        try:
            await relay.run_once()
        except ChainUnavailable as exc:
            quiet_relay.unavailable(exc)

    interval = timedelta(seconds=parts.poll_interval)
    relay_interval = timedelta(seconds=max(parts.network.block_time / 2, 0.05))
    return [
        PeriodicJob(service, interval, watch_and_fulfil),
        PeriodicJob(f"{service}-outbox", relay_interval, relay_outbox),
    ]


def randomness_jobs(parts: ChainParts) -> list[PeriodicJob]:
    watcher = parts.watcher()
    fulfiller = parts.fulfiller(worker_identity())
    if watcher is None or fulfiller is None:
        log.warning("randomness contract or service keys missing: randomness jobs are off")
        return []
    return _watch_jobs(parts, "randomness", watcher, fulfiller)


def oracle_jobs(container: Container, parts: ChainParts) -> list[PeriodicJob]:
    async def sealed(tenant: str, name: str) -> tuple[str, bytes]:
        return await container.vault.secrets.sealed_for_consumer(tenant, name, Consumer.ORACLE)

    watcher = parts.oracle_watcher()
    fulfiller = parts.oracle_fulfiller(worker_identity(), sealed)
    if watcher is None or fulfiller is None:
        log.info("oracle contract or oracle key missing: oracle jobs are off")
        return []
    return _watch_jobs(parts, "oracle", watcher, fulfiller)


def native_oracle_jobs(parts: ChainParts) -> list[PeriodicJob]:
    """Serving Neo's native Oracle (when this installation has a designated node key)."""
    watcher = parts.native_oracle_watcher()
    fulfiller = parts.native_oracle_fulfiller(worker_identity())
    if watcher is None or fulfiller is None:
        log.info("no native oracle node key (or turned off): native oracle jobs are off")
        return []
    return _watch_jobs(parts, "native-oracle", watcher, fulfiller)


def feed_jobs(parts: ChainParts) -> list[PeriodicJob]:
    runner = parts.feed_runner()
    if runner is None:
        if parts.feeds:
            log.warning("price feeds are configured but the feed contract or oracle key is missing")
        return []
    quiet = _Quiet("feeds")

    async def rounds() -> None:
        try:
            await runner.run_all()
        except ChainUnavailable as exc:
            quiet.unavailable(exc)

    return [PeriodicJob("feeds", timedelta(seconds=parts.settings.feed_interval_seconds), rounds)]
