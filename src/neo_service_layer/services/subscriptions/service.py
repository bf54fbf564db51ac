"""The subscriptions service: tenants hear about their events over Standard Webhooks or a stream.

Producers write tenant events to the outbox (``kernel.events``) in their own transaction: tenant-job
runs delivered or failed (automation), security entries of the audit log, and (where a network is
configured, the worker's ``subscriptions-chain`` scanner) N3 contract notifications that a tenant's
chain-filtered subscription watches. The worker's
``subscriptions-relay`` fans new events out to matching webhook subscriptions as delivery rows (once per
subscription and event); ``subscriptions-delivery`` sends them signed, in event order per subscription,
retried with backoff for about three days, then dead-lettered. ``/api/v1/subscriptions`` manages them
and streams events as Server-Sent Events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.secrets.api import SourceUrlPolicy
from neo_service_layer.services.subscriptions import routes, stream_routes
from neo_service_layer.services.subscriptions.adapters.chain_store import SqlChainSourceStore
from neo_service_layer.services.subscriptions.adapters.delivery_store import SqlDeliveryStore, SqlRelayStore
from neo_service_layer.services.subscriptions.adapters.metrics import DeliveryMetrics
from neo_service_layer.services.subscriptions.adapters.sender import GuardedPoster
from neo_service_layer.services.subscriptions.adapters.store import SqlSubscriptionStore
from neo_service_layer.services.subscriptions.parts import NAME, SubscriptionParts
from neo_service_layer.services.subscriptions.scopes import SUBSCRIPTIONS_READ, SUBSCRIPTIONS_WRITE
from neo_service_layer.services.subscriptions.use_cases.chain_source import ChainScanner
from neo_service_layer.services.subscriptions.use_cases.deliver import Deliverer
from neo_service_layer.services.subscriptions.use_cases.manage import Subscriptions
from neo_service_layer.services.subscriptions.use_cases.relay import Relay

#: how often the worker fans out new events and starts due deliveries
RELAY_EVERY = timedelta(seconds=0.5)
DELIVER_EVERY = timedelta(seconds=0.5)
#: how often the worker reads new blocks for chain-filtered subscriptions
CHAIN_EVERY = timedelta(seconds=1)


def poster(container: Container) -> GuardedPoster:
    """The SSRF guard takes the oracle's operator settings (allowed hosts, plain http)."""
    settings = container.settings
    return GuardedPoster(SourceUrlPolicy.of(settings.oracle_allow_hosts, settings.oracle_allow_http))


@asynccontextmanager
async def open_subscriptions(container: Container) -> AsyncIterator[SubscriptionParts]:
    box = AesGcmBox(resolve_kek(container.settings))
    subscriptions = Subscriptions(
        SqlSubscriptionStore(container.engine),
        box,
        poster(container),
        container.clock,
        container.iam.audit_log,
        container.chain.chain if container.chain is not None else None,
    )
    yield SubscriptionParts(subscriptions, DeliveryMetrics(container.registry))


def deliverer(container: Container, worker_id: str | None = None) -> Deliverer:
    return Deliverer(
        SqlDeliveryStore(container.engine),
        poster(container),
        AesGcmBox(resolve_kek(container.settings)),
        container.clock,
        container.parts_of(NAME, SubscriptionParts).metrics,
        worker_id=worker_id or worker_identity(),
    )


def subscription_jobs(container: Container) -> Sequence[PeriodicJob]:
    relay = Relay(SqlRelayStore(container.engine), container.clock)
    sender = deliverer(container)

    async def fan_out() -> None:
        await relay.run_once()

    async def deliver() -> None:
        await sender.run_once()

    jobs = [
        PeriodicJob("subscriptions-relay", RELAY_EVERY, fan_out),
        PeriodicJob("subscriptions-delivery", DELIVER_EVERY, deliver),
    ]
    if container.chain is not None:
        scanner = ChainScanner(SqlChainSourceStore(container.engine), container.chain.chain, container.clock)

        async def scan() -> None:
            await scanner.run_once()

        jobs.append(PeriodicJob("subscriptions-chain", CHAIN_EVERY, scan))
    return jobs


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Subscriptions: tenant events over Standard Webhooks (retried, dead-lettered) or a stream",
    routers=(routes.router, stream_routes.router),
    open=open_subscriptions,
    jobs=subscription_jobs,
    migrations=Path(__file__).parent / "migrations",
    scopes=(
        ScopeGrant(SUBSCRIPTIONS_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),
        ScopeGrant(SUBSCRIPTIONS_WRITE, (Role.DEVELOPER, Role.OPERATOR)),
    ),
)
