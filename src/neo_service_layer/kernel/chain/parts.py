"""The chain part of the kernel: Neo network, RPC pool, chain adapter, request store, sender, metrics.

Opened by the composition root for every process. Without a configured network (the local chain not
deployed yet and no ``NSL_NEO_NETWORK``) the container gets ``None`` and readiness says so
(non-critical). The sender key comes from the database (role ``sender``); a process that has no enclave
still reads the chain (network info, request state). Each on-chain service builds its own watcher and
fulfiller over these parts (its ``service`` module); nothing here knows any one service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.cache.adapters.factory import CacheFactory
from neo_service_layer.kernel.cache.ports import Cache
from neo_service_layer.kernel.chain.adapters.evm_network import resolve_evm_network
from neo_service_layer.kernel.chain.adapters.health import ChainCheck
from neo_service_layer.kernel.chain.adapters.health import not_configured as chain_not_configured
from neo_service_layer.kernel.chain.adapters.metrics import ChainMetrics
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoChain, NeoRpcEndpoint
from neo_service_layer.kernel.chain.adapters.network import NeoNetwork, resolve_network
from neo_service_layer.kernel.chain.adapters.outbox_store import SqlOutboxStore
from neo_service_layer.kernel.chain.adapters.payloads import RequestPayloads
from neo_service_layer.kernel.chain.adapters.privnet import DEV_VALIDATOR_PUBLIC_KEY
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.adapters.role_key_store import SqlRoleKeyStore
from neo_service_layer.kernel.chain.adapters.rpc import RpcPool
from neo_service_layer.kernel.chain.adapters.service_keys import load_sender
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount, enclave_signing_function
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.use_cases.outbox import OutboxRelay
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher, EventDecoder
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.health.ports import ReadinessCheck

if TYPE_CHECKING:
    from neo_service_layer.kernel.chain.evm_parts import EvmKernel

#: the sender of processes that only read the chain (no sender key in the database yet): it never
#: signs, since the enclave holds no key "none"
_NO_SENDER = EnclaveAccount("none", bytes.fromhex(DEV_VALIDATOR_PUBLIC_KEY))


_HEIGHT = "height"


@dataclass
class ChainKernel:
    """The chain resources every on-chain service shares."""

    settings: Settings
    network: NeoNetwork
    chain: NeoChain
    engine: AsyncEngine
    metrics: ChainMetrics
    #: the services' transaction sender; ``None`` until the local chain is provisioned (or on a
    #: process that only reads)
    sender: EnclaveAccount | None
    enclave: Callable[[], Enclave]
    clock: Clock
    #: the height as read at most a block time (and 1 s) ago, for what the API shows
    height_cache: Cache[int] | None = None

    async def recent_height(self) -> int:
        """The chain's height as read at most ``min(block time, 1 s)`` ago in this process.

        For what the API shows (``/neo/network``, a request's state); what decides an answer (the
        watcher, the outbox) reads the chain itself.
        """
        generation = self.height_cache.generation() if self.height_cache is not None else 0
        if self.height_cache is not None and (cached := self.height_cache.get(_HEIGHT)) is not None:
            return cached
        height = await self.chain.height()
        if self.height_cache is not None:
            self.height_cache.put(_HEIGHT, height, (), generation)
        return height

    @property
    def poll_interval(self) -> float:
        return poll_interval(self.settings, self.network)

    @property
    def max_callback_gas(self) -> int:
        """The per-request callback gas cap, in GAS fractions."""
        return int(self.settings.neo_max_callback_gas * 10**8)

    def contract(self, name: str) -> str | None:
        """The hash of the service contract ``name`` (settings first, then the local ``network.json``)."""
        return self.network.contract(name)

    def requests[Q, A](self, payloads: RequestPayloads[Q, A]) -> SqlRequestStore[Q, A]:
        """A service's request store: the pipeline's tables plus the service's own payload table."""
        return SqlRequestStore(self.engine, payloads)

    def watcher[Q](
        self, service: str, contract: str, store: RequestStore[Q, Any], decode: EventDecoder[Q]
    ) -> ChainWatcher[Q]:
        """The watcher of one service's contract, from the network's start block."""
        return ChainWatcher(
            self.chain,
            store,
            self.clock,
            self.metrics,
            service=service,
            contract=contract,
            decode=decode,
            start_block=self.network.start_block,
        )

    def relay(self, service: str) -> OutboxRelay:
        """The outbox relay of one service's fulfilment transactions."""
        return OutboxRelay(
            self.chain,
            SqlOutboxStore(self.engine),
            self.clock,
            self.metrics,
            service=service,
            resend_after=timedelta(seconds=max(self.network.block_time * 2, 0.5)),
        )


def poll_interval(settings: Settings, network: NeoNetwork) -> float:
    """How often each service polls the chain: a tenth of a block time unless set (and at least 50 ms)."""
    return settings.neo_poll_interval_seconds or max(network.block_time / 10, 0.05)


def on_chain(chain: ChainKernel | None, contract_name: str) -> tuple[ChainKernel, str]:
    """The chain and the hash of the service contract ``contract_name``, or ``ChainNotConfigured`` (503)."""
    if chain is None:
        raise ChainNotConfigured("no Neo network is configured (run `nsl chain up` or set NSL_NEO_NETWORK)")
    contract = chain.contract(contract_name)
    if contract is None:
        raise ChainNotConfigured(f"the {contract_name} contract is not deployed on this network")
    return chain, contract


@asynccontextmanager
async def open_chain(
    settings: Settings,
    engine: AsyncEngine,
    enclave: Callable[[], Enclave],
    clock: Clock,
    registry: CollectorRegistry,
    readiness: dict[str, ReadinessCheck],
    caches: CacheFactory | None = None,
) -> AsyncIterator[ChainKernel | None]:
    network = resolve_network(settings)
    if network is None or network.magic is None:
        readiness["chain"] = chain_not_configured
        yield None
        return
    metrics = ChainMetrics(registry, low_balance_gas=settings.neo_sender_low_balance_gas)
    endpoints = [(url, NeoRpcEndpoint(url)) for url in network.rpc_urls]
    pool: RpcPool[NeoRpcEndpoint] = RpcPool(endpoints)
    sender = await load_sender(SqlRoleKeyStore(engine))
    signer = sender if sender is not None else _NO_SENDER
    chain = NeoChain(
        pool,
        magic=network.magic,
        sender=signer,
        sign=enclave_signing_function(enclave, signer),
        valid_until_blocks=settings.neo_valid_until_blocks,
        system_fee_margin=0.01,
        height_max_age=poll_interval(settings, network) / 2,
        height_counted=caches.counter("chain_head") if caches is not None else None,
    )
    readiness["chain"] = ChainCheck(
        chain, metrics, network=network.name, low_balance_gas=settings.neo_sender_low_balance_gas
    )
    try:
        height: Cache[int] | None = None
        if caches is not None:
            ttl = min(network.block_time, 1.0)
            height = caches.create("chain_height", ttl_seconds=ttl, max_entries=1)
        yield ChainKernel(settings, network, chain, engine, metrics, sender, enclave, clock, height)
    finally:
        for _url, endpoint in endpoints:
            await endpoint.close()


@asynccontextmanager
async def open_evm(
    settings: Settings,
    engine: AsyncEngine,
    enclave: Callable[[], Enclave],
    clock: Clock,
    metrics: ChainMetrics | None,
    registry: CollectorRegistry,
) -> AsyncIterator[EvmKernel | None]:
    """The EVM chain when one is configured (``NSL_EVM_*`` or the local Neo X), else ``None``.

    web3 and the EVM adapters are imported only then: they cost every process about 0.7 s of CPU at
    start (``web3`` pulls in eth_account's key-file and BLS tables), which an installation without Neo
    X should not pay.
    """
    network = resolve_evm_network(settings)
    if network is None:
        yield None
        return
    from neo_service_layer.kernel.chain.evm_parts import open_evm_kernel

    async with open_evm_kernel(settings, network, engine, enclave, clock, metrics, registry) as kernel:
        yield kernel
