"""The chain part of the composition root: Neo network, RPC pool, chain adapter, store, services, metrics.

Called by :func:`neo_service_layer.bootstrap.open_container`. Without a configured network (the local
chain not deployed yet and no ``NSL_NEO_NETWORK``) the container gets ``None`` and readiness says so
(non-critical). The sender and randomness keys come from the database (``chain_service_keys``); a
process that has no enclave still reads the chain (network info, request state).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.health import ChainCheck
from neo_service_layer.kernel.chain.adapters.health import not_configured as chain_not_configured
from neo_service_layer.kernel.chain.adapters.metrics import ChainMetrics
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoChain, NeoRpcEndpoint
from neo_service_layer.kernel.chain.adapters.network import NeoNetwork, NetworkFile, resolve_network
from neo_service_layer.kernel.chain.adapters.privnet import DEV_VALIDATOR_PUBLIC_KEY
from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
from neo_service_layer.kernel.chain.adapters.rpc import RpcPool
from neo_service_layer.kernel.chain.adapters.service_keys import ServiceKeys, load_service_keys
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount, enclave_signing_function
from neo_service_layer.kernel.chain.use_cases.outbox import OutboxRelay
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.health.ports import ReadinessCheck
from neo_service_layer.services.feeds.rules.updates import FeedDefinition
from neo_service_layer.services.feeds.use_cases import FeedRunner
from neo_service_layer.services.native_oracle import use_cases as native_oracle
from neo_service_layer.services.native_oracle.adapters.neo_filter import neo_filter
from neo_service_layer.services.native_oracle.adapters.node import NeoNativeOracle, load_native_oracle_key
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT
from neo_service_layer.services.oracle.adapters.oracle_key import load_oracle_key
from neo_service_layer.services.oracle.adapters.templates_store import OracleTemplates
from neo_service_layer.services.oracle.use_cases import fulfilment as oracle
from neo_service_layer.services.randomness import use_cases as randomness

#: the sender of processes that only read the chain (no service keys in the database yet): it never
#: signs, since the enclave holds no key "none"
_NO_SENDER = EnclaveAccount("none", bytes.fromhex(DEV_VALIDATOR_PUBLIC_KEY))


@dataclass
class ChainParts:
    settings: Settings
    network: NeoNetwork
    chain: NeoChain
    store: ChainStore
    metrics: ChainMetrics
    keys: ServiceKeys | None
    enclave: Callable[[], Enclave]
    clock: Clock
    oracle_contract: str | None = None
    feed_contract: str | None = None
    oracle_key: oracle.OracleKey | None = None
    feeds: list[FeedDefinition] = field(default_factory=list)
    templates: OracleTemplates | None = None
    #: the key this node answers native Oracle requests with (``None``: not a native oracle node)
    native_oracle_key: EnclaveAccount | None = None

    @property
    def poll_interval(self) -> float:
        return self.settings.neo_poll_interval_seconds or max(self.network.block_time / 10, 0.05)

    def watcher(self) -> ChainWatcher | None:
        if not self.network.randomness_contract:
            return None
        return ChainWatcher(
            self.chain,
            self.store,
            self.clock,
            self.metrics,
            service=randomness.SERVICE,
            contract=self.network.randomness_contract,
            decode=randomness.decode_events,
            start_block=self.network.start_block,
        )

    def fulfiller(self, worker_id: str) -> randomness.RandomnessFulfiller | None:
        if not self.network.randomness_contract or self.keys is None:
            return None
        return randomness.RandomnessFulfiller(
            self.chain,
            self.store,
            self.enclave,
            self.clock,
            self.metrics,
            contract=self.network.randomness_contract,
            keys=self.keys.randomness,
            worker_id=worker_id,
            lease_seconds=self.settings.neo_lease_seconds,
            per_transaction=self.settings.neo_fulfilments_per_transaction,
            max_callback_gas=int(self.settings.neo_max_callback_gas * 10**8),
        )

    def relay(self, service: str = randomness.SERVICE) -> OutboxRelay:
        return OutboxRelay(
            self.chain,
            self.store,
            self.clock,
            self.metrics,
            service=service,
            resend_after=timedelta(seconds=max(self.network.block_time * 2, 0.5)),
        )

    def oracle_watcher(self) -> ChainWatcher | None:
        if not self.oracle_contract:
            return None
        return ChainWatcher(
            self.chain,
            self.store,
            self.clock,
            self.metrics,
            service=oracle.SERVICE,
            contract=self.oracle_contract,
            decode=oracle.decode_events,
            start_block=self.network.start_block,
        )

    def oracle_answerer(self, secrets: oracle.SealedSecretReader) -> oracle.OracleAnswerer | None:
        if self.oracle_key is None or self.templates is None:
            return None
        return oracle.OracleAnswerer(self.enclave, self.oracle_key, self.templates, secrets, self.clock)

    def oracle_fulfiller(
        self, worker_id: str, secrets: oracle.SealedSecretReader
    ) -> oracle.OracleFulfiller | None:
        answerer = self.oracle_answerer(secrets)
        if not self.oracle_contract or answerer is None or self.keys is None:
            return None
        return oracle.OracleFulfiller(
            self.chain,
            self.store,
            answerer,
            self.clock,
            self.metrics,
            contract=self.oracle_contract,
            worker_id=worker_id,
            lease_seconds=self.settings.neo_lease_seconds,
            per_transaction=self.settings.oracle_answers_per_transaction,
            max_callback_gas=int(self.settings.neo_max_callback_gas * 10**8),
            fetch_concurrency=self.settings.oracle_fetch_concurrency,
        )

    def native_oracle_watcher(self) -> ChainWatcher | None:
        if self.native_oracle_key is None or not self.settings.neo_native_oracle:
            return None
        return ChainWatcher(
            self.chain,
            self.store,
            self.clock,
            self.metrics,
            service=native_oracle.SERVICE,
            contract=ORACLE_CONTRACT,
            decode=native_oracle.decode_events,
            start_block=self.network.start_block,
        )

    def native_oracle_fulfiller(self, worker_id: str) -> native_oracle.NativeOracleFulfiller | None:
        key = self.native_oracle_key
        if key is None or self.oracle_key is None or not self.settings.neo_native_oracle:
            return None
        node = NeoNativeOracle(
            self.chain,
            self.enclave,
            key,
            valid_until_blocks=self.settings.neo_valid_until_blocks,
            peers=self.settings.neo_oracle_peers,
        )
        return native_oracle.NativeOracleFulfiller(
            self.chain,
            node,
            self.store,
            native_oracle.NativeFetcher(self.enclave, self.oracle_key, neo_filter),
            self.clock,
            self.metrics,
            worker_id=worker_id,
            lease_seconds=self.settings.neo_lease_seconds,
            concurrency=self.settings.oracle_fetch_concurrency * 2,
        )

    def feed_runner(self) -> FeedRunner | None:
        if not self.feed_contract or self.oracle_key is None or self.keys is None or not self.feeds:
            return None
        return FeedRunner(
            self.chain,
            self.enclave,
            self.oracle_key,
            self.clock,
            self.metrics,
            contract=self.feed_contract,
            feeds=self.feeds,
        )


def service_contract(settings: Settings, name: str) -> str | None:
    """Hash of the ``oracle`` or ``feed`` contract: from the settings, else the local chain's network.json."""
    configured = settings.neo_oracle_contract if name == "oracle" else settings.neo_feed_contract
    if configured:
        return configured
    if settings.neo_network != "local":
        return None
    file = NetworkFile.read(settings.data_dir)
    return file.contracts.get(name) if file is not None else None


@asynccontextmanager
async def open_chain(
    settings: Settings,
    engine: AsyncEngine,
    enclave: Callable[[], Enclave],
    clock: Clock,
    registry: CollectorRegistry,
    readiness: dict[str, ReadinessCheck],
) -> AsyncIterator[ChainParts | None]:
    network = resolve_network(settings)
    if network is None or network.magic is None:
        readiness["chain"] = chain_not_configured
        yield None
        return
    store = ChainStore(engine)
    metrics = ChainMetrics(registry, low_balance_gas=settings.neo_sender_low_balance_gas)
    endpoints = [(url, NeoRpcEndpoint(url)) for url in network.rpc_urls]
    pool: RpcPool[NeoRpcEndpoint] = RpcPool(endpoints)
    keys = await load_service_keys(store)
    sender = keys.sender if keys is not None else _NO_SENDER
    chain = NeoChain(
        pool,
        magic=network.magic,
        sender=sender,
        sign=enclave_signing_function(enclave, sender),
        valid_until_blocks=settings.neo_valid_until_blocks,
        system_fee_margin=0.01,
    )
    readiness["chain"] = ChainCheck(
        chain, metrics, network=network.name, low_balance_gas=settings.neo_sender_low_balance_gas
    )
    try:
        yield ChainParts(
            settings,
            network,
            chain,
            store,
            metrics,
            keys,
            enclave,
            clock,
            oracle_contract=service_contract(settings, "oracle"),
            feed_contract=service_contract(settings, "feed"),
            oracle_key=await load_oracle_key(store),
            feeds=[FeedDefinition.from_dict(feed) for feed in settings.feeds],
            templates=OracleTemplates(engine),
            native_oracle_key=await load_native_oracle_key(store),
        )
    finally:
        for _url, endpoint in endpoints:
            await endpoint.close()
