"""The EVM chain (Neo X) part of the kernel: the chain, its watcher source, the sender, the relay.

Imported only when an EVM chain is configured (``chain.parts.open_evm``): web3 is loaded with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_events import EvmEventSource
from neo_service_layer.kernel.chain.adapters.evm_fees import GWEI, FeePolicy
from neo_service_layer.kernel.chain.adapters.evm_network import EvmNetwork
from neo_service_layer.kernel.chain.adapters.evm_sender_key import load_evm_sender
from neo_service_layer.kernel.chain.adapters.evm_transactions import EvmSender
from neo_service_layer.kernel.chain.adapters.metrics import ChainMetrics
from neo_service_layer.kernel.chain.adapters.outbox_store import SqlOutboxStore
from neo_service_layer.kernel.chain.adapters.payloads import RequestPayloads
from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.adapters.role_key_store import SqlRoleKeyStore
from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.use_cases.evm_outbox import EvmOutboxRelay
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher, EventDecoder
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.ports import Enclave


@dataclass
class EvmKernel:
    """The EVM chain (Neo X) resources the services share: the chain, its watcher source, the sender."""

    settings: Settings
    network: EvmNetwork
    chain: EvmChain
    engine: AsyncEngine
    metrics: ChainMetrics
    #: the services' sender on this chain (its key in the enclave); ``None`` until provisioned
    sender: EvmSender | None
    clock: Clock

    @property
    def poll_interval(self) -> float:
        return self.settings.evm_poll_interval_seconds

    def contract(self, name: str) -> str | None:
        return self.network.contract(name)

    def requests[Q, A](self, payloads: RequestPayloads[Q, A]) -> SqlRequestStore[Q, A]:
        return SqlRequestStore(self.engine, payloads)

    def watcher[Q](
        self,
        service: str,
        contract: str,
        abi: list[dict[str, Any]],
        store: RequestStore[Q, Any],
        decode: EventDecoder[Q],
    ) -> ChainWatcher[Q]:
        """The watcher of one service's EVM contract (cursor ``<service>:<address>``)."""
        source = EvmEventSource(self.chain, {contract: abi}, confirmations=self.network.confirmations)
        return ChainWatcher(
            source,
            store,
            self.clock,
            self.metrics,
            service=service,
            contract=contract,
            decode=decode,
            start_block=self.network.start_block,
        )

    def relay(self, service: str, sender: EvmSender) -> EvmOutboxRelay:
        return EvmOutboxRelay(
            sender,
            SqlOutboxStore(self.engine),
            self.clock,
            self.metrics,
            service=service,
            resend_after=timedelta(seconds=self.settings.evm_resend_seconds),
            replace_after=self.settings.evm_replace_after_sends,
        )


@asynccontextmanager
async def open_evm_kernel(
    settings: Settings,
    network: EvmNetwork,
    engine: AsyncEngine,
    enclave: Callable[[], Enclave],
    clock: Clock,
    metrics: ChainMetrics | None,
    registry: CollectorRegistry,
) -> AsyncIterator[EvmKernel]:
    """The chain, its sender (the key in the enclave, when provisioned) and the shared parts."""
    cap = settings.evm_max_fee_gwei
    max_fee = int(cap * GWEI) if cap is not None else None
    chain = EvmChain(
        network.rpc_urls,
        network.chain_id,
        fee_policy=FeePolicy(max_fee_cap=max_fee),
        height_max_age=settings.evm_poll_interval_seconds / 2,
    )
    sender = await load_evm_sender(SqlRoleKeyStore(engine), chain, enclave, max_fee_cap=max_fee)
    try:
        yield EvmKernel(settings, network, chain, engine, metrics or ChainMetrics(registry), sender, clock)
    finally:
        await chain.close()
