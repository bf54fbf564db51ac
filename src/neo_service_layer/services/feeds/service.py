"""Price feeds: rounds fetched, aggregated and signed in the enclave (``feed_round``, with the oracle key),
published to one feed contract when a deviation or the heartbeat asks for it (``NSL_FEEDS``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks, ProvisionContext, ServiceContract
from neo_service_layer.kernel.chain.jobs import Quiet
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.services.feeds import routes
from neo_service_layer.services.feeds.parts import CONTRACT, FeedParts
from neo_service_layer.services.feeds.rules.updates import FeedDefinition
from neo_service_layer.services.feeds.use_cases import FeedRunner
from neo_service_layer.services.oracle.api import ORACLE_PUBLIC_KEY, load_oracle_key

NAME = "feeds"

log = get_logger("nsl.feeds")


@asynccontextmanager
async def open_feeds(container: Container) -> AsyncIterator[FeedParts]:
    yield FeedParts(
        chain=container.chain,
        enclave=lambda: container.enclave,
        feeds=[FeedDefinition.from_dict(feed) for feed in container.settings.feeds],
        # read only where a network is configured: without one nothing signs, and a process must start
        # (and report itself unready) while the database is down
        oracle_key=await load_oracle_key(container.platform_keys) if container.chain else None,
    )


def feed_jobs(container: Container) -> Sequence[PeriodicJob]:
    """One job that runs a round of every feed each ``NSL_FEED_INTERVAL_SECONDS``."""
    parts = container.parts_of(NAME, FeedParts)
    chain = parts.chain
    contract = chain.contract(CONTRACT) if chain is not None else None
    if (
        chain is None
        or contract is None
        or parts.oracle_key is None
        or chain.sender is None
        or not parts.feeds
    ):
        if parts.feeds:
            log.warning("price feeds are configured but the feed contract or oracle key is missing")
        return []
    runner = FeedRunner(
        chain.chain,
        parts.enclave,
        parts.oracle_key,
        chain.clock,
        chain.metrics,
        contract=contract,
        feeds=parts.feeds,
    )
    quiet = Quiet(NAME)

    async def rounds() -> None:
        try:
            await runner.run_all()
        except ChainUnavailable as exc:
            quiet.unavailable(exc)

    return [PeriodicJob(NAME, timedelta(seconds=chain.settings.feed_interval_seconds), rounds)]


def deploy_args(context: ProvisionContext) -> Sequence[Any]:
    """``_deploy`` data of the feed contract: owner, operator, update delay, the oracle key that signs
    rounds, and each configured feed's sources digest, decimals and description (rounds signed over other
    sources FAULT)."""
    feeds = [FeedDefinition.from_dict(feed) for feed in context.settings.feeds]
    return [
        *context.admin_args(),
        context.public_key(ORACLE_PUBLIC_KEY),
        [[f.pair, f.sources_digest(), f.decimals, f.description] for f in feeds],
    ]


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Price feeds aggregated from several sources, signed and published on chain",
    routers=(routes.router,),
    open=open_feeds,
    jobs=feed_jobs,
    chain=ChainHooks(contracts=(ServiceContract(CONTRACT, "price_feed", deploy_args),)),
)
