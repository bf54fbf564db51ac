"""The subscriptions service: tenants hear about their events over Standard Webhooks, e-mail (SMTP,
signed the same way) or a stream.

Producers write tenant events to the outbox (``kernel.events``) in their own transaction: tenant-job
runs delivered or failed (automation), security entries of the audit log, and (where a network is
configured, the worker's ``subscriptions-chain`` scanner) N3 contract notifications and NEP-17 transfers
that a tenant's subscription watches, and (where an EVM chain is configured, ``subscriptions-neox``)
ERC-20 transfers on Neo X. The worker's
``subscriptions-relay`` fans new events out to matching webhook subscriptions as delivery rows (once per
subscription and event); ``subscriptions-delivery`` sends them signed, in event order per subscription,
retried with backoff for about three days, then dead-lettered. Both poll every 0.5 s; on PostgreSQL
new events wake the relay at their commit (``kernel.events.listener``), and a relay round that made
deliveries wakes the delivery job, so a webhook does not wait for a poll. With ``NSL_BUS_URL`` the
relay dispatches due deliveries to RabbitMQ and a consumer sends them instead (``jobs.bus_jobs``).
``/api/v1/subscriptions`` manages them and streams events as Server-Sent Events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from neo_service_layer.kernel.chain.jobs import Quiet
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.secrets.api import SourceUrlPolicy
from neo_service_layer.services.subscriptions import key_routes, routes, stream_routes
from neo_service_layer.services.subscriptions.adapters.bus import RabbitBus
from neo_service_layer.services.subscriptions.adapters.chain_store import SqlChainSourceStore
from neo_service_layer.services.subscriptions.adapters.delivery_store import SqlDeliveryStore, SqlRelayStore
from neo_service_layer.services.subscriptions.adapters.dispatch_store import SqlDispatchStore
from neo_service_layer.services.subscriptions.adapters.mailer import SmtpMailer
from neo_service_layer.services.subscriptions.adapters.metrics import DeliveryMetrics
from neo_service_layer.services.subscriptions.adapters.retention_store import SqlEventJanitor
from neo_service_layer.services.subscriptions.adapters.sender import GuardedPoster
from neo_service_layer.services.subscriptions.adapters.store import SqlSubscriptionStore
from neo_service_layer.services.subscriptions.adapters.webhook_key import EnclaveWebhookSigner
from neo_service_layer.services.subscriptions.jobs import bus_jobs
from neo_service_layer.services.subscriptions.parts import NAME, SubscriptionParts
from neo_service_layer.services.subscriptions.rules.endpoints import Policy
from neo_service_layer.services.subscriptions.rules.retry import next_retry
from neo_service_layer.services.subscriptions.scopes import SUBSCRIPTIONS_READ, SUBSCRIPTIONS_WRITE
from neo_service_layer.services.subscriptions.use_cases.chain_source import ChainScanner
from neo_service_layer.services.subscriptions.use_cases.deliver import Deliverer
from neo_service_layer.services.subscriptions.use_cases.manage import Subscriptions
from neo_service_layer.services.subscriptions.use_cases.relay import Relay
from neo_service_layer.services.subscriptions.use_cases.retention import EventRetention
from neo_service_layer.services.subscriptions.use_cases.transfer_source import ERC20, NEOX

if TYPE_CHECKING:
    from neo_service_layer.kernel.chain.adapters.evm_events import EvmEventSource
    from neo_service_layer.kernel.chain.evm_parts import EvmKernel

#: how often the worker fans out new events and starts due deliveries
RELAY_EVERY = timedelta(seconds=0.5)
DELIVER_EVERY = timedelta(seconds=0.5)
#: how often the worker deletes events and deliveries past the retention
RETENTION_EVERY = timedelta(hours=1)
#: how often the worker makes sure the webhook key exists (created once, then read from memory)
KEY_EVERY = timedelta(seconds=10)
#: how often the worker reads new blocks for chain-filtered subscriptions
CHAIN_EVERY = timedelta(seconds=1)


def poster(container: Container) -> GuardedPoster:
    """The SSRF guard takes the oracle's operator settings (allowed hosts, plain http)."""
    settings = container.settings
    return GuardedPoster(SourceUrlPolicy.of(settings.oracle_allow_hosts, settings.oracle_allow_http))


def mailer(container: Container) -> SmtpMailer | None:
    """The e-mail channel's SMTP client; ``None`` without ``NSL_SMTP_HOST`` (no e-mail channel)."""
    settings = container.settings
    if settings.smtp_host is None or settings.smtp_from is None:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password is not None else None
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_from,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=password,
        ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file is not None else None,
    )


def _transfer_source(evm: EvmKernel | None) -> EvmEventSource | None:
    """Neo X's ERC-20 transfers, when an EVM chain is configured (only then are web3's adapters loaded)."""
    if evm is None:
        return None
    from neo_service_layer.services.subscriptions.adapters.erc20 import transfer_source

    return transfer_source(evm)


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
        smtp=container.settings.smtp_host is not None,
        neox=_transfer_source(container.evm),
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
        mailer=mailer(container),
        signer=webhook_signer(container),
        endpoints=Policy(limit=container.settings.subscriptions_max_per_endpoint),
        retry=partial(next_retry, max_attempts=container.settings.subscriptions_max_attempts),
    )


def webhook_signer(container: Container) -> EnclaveWebhookSigner | None:
    """The enclave's ``v1a`` signer where this process has an enclave (every ``nsl run`` / production
    worker); without one, webhooks carry the ``v1`` signatures only."""
    if container.enclave_client is None:
        return None
    return EnclaveWebhookSigner(container.platform_keys, container.enclave_client, container.clock)


def subscription_jobs(container: Container) -> Sequence[PeriodicJob]:
    relay = Relay(SqlRelayStore(container.engine), container.clock)
    sender = deliverer(container)

    new_events, new_deliveries = container.new_events.waker(), asyncio.Event()

    async def fan_out() -> None:
        if await relay.run_once():
            new_deliveries.set()

    async def deliver() -> None:
        await sender.run_once()

    # new events wake the relay (on PostgreSQL, at their commit), new deliveries the delivery job
    jobs = [
        PeriodicJob("subscriptions-relay", RELAY_EVERY, fan_out, wake=new_events),
        PeriodicJob(
            "subscriptions-delivery", DELIVER_EVERY, deliver, wake=new_deliveries, close=sender.close
        ),
    ]
    bus_url = container.settings.bus_url
    if bus_url is not None:  # RabbitMQ: the relay dispatches, a consumer delivers (no polling delivery)
        bus = RabbitBus(bus_url.get_secret_value())
        jobs = bus_jobs(
            SqlDispatchStore(container.engine),
            container.clock,
            bus,
            relay,
            sender,
            relay_every=RELAY_EVERY,
            wake=new_events,
        )
    retention = EventRetention(
        SqlEventJanitor(container.engine),
        container.clock,
        retention_days=container.settings.subscriptions_retention_days,
    )

    async def clean() -> None:
        await retention.run_once()

    jobs.append(PeriodicJob("subscriptions-retention", RETENTION_EVERY, clean))
    signer = webhook_signer(container)
    if signer is not None:  # the key exists before the first delivery: the API can show it at once
        quiet_key = Quiet("subscriptions-webhook-key")

        async def make_key() -> None:  # one enclave call the first time, then the cached key
            try:
                await signer.key()
            except EnclaveUnavailable as exc:
                quiet_key.unavailable(exc)

        jobs.append(PeriodicJob("subscriptions-webhook-key", KEY_EVERY, make_key))
    if container.chain is not None:
        scanner = ChainScanner(SqlChainSourceStore(container.engine), container.chain.chain, container.clock)

        quiet = Quiet("subscriptions-chain")

        async def scan() -> None:
            try:
                await scanner.run_once()
            except ChainUnavailable as exc:  # a node down is a quiet warning, not a traceback per poll
                quiet.unavailable(exc)

        jobs.append(PeriodicJob("subscriptions-chain", CHAIN_EVERY, scan))
    if container.evm is not None:
        jobs.append(_neox_job(container, container.evm))
    return jobs


def _neox_job(container: Container, evm: EvmKernel) -> PeriodicJob:
    """The Neo X transfer scanner: ``ChainScanner`` over the EVM source, its own cursor and watches."""
    from neo_service_layer.services.subscriptions.adapters.erc20 import transfer_source  # web3: Neo X only

    neox = ChainScanner(
        SqlChainSourceStore(container.engine, NEOX), transfer_source(evm), container.clock, kind=ERC20
    )
    quiet = Quiet("subscriptions-neox")

    async def scan() -> None:
        try:
            await neox.run_once()
        except ChainUnavailable as exc:
            quiet.unavailable(exc)

    return PeriodicJob("subscriptions-neox", timedelta(seconds=evm.poll_interval), scan)


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Subscriptions: tenant events over Standard Webhooks (retried, dead-lettered) or a stream",
    routers=(routes.router, stream_routes.router, key_routes.router),
    open=open_subscriptions,
    jobs=subscription_jobs,
    migrations=Path(__file__).parent / "migrations",
    scopes=(
        ScopeGrant(SUBSCRIPTIONS_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),
        ScopeGrant(SUBSCRIPTIONS_WRITE, (Role.DEVELOPER, Role.OPERATOR)),
    ),
)
