"""What the cross-chain service's routes and jobs are handed: both chains, its store and view, its key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from neo_service_layer.enclave.wire.crosschain import n3_chain_id
from neo_service_layer.kernel.chain.adapters.service_keys import RoleKey
from neo_service_layer.kernel.chain.parts import ChainKernel
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured
from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.adapters.view import SqlMessageView

if TYPE_CHECKING:
    from neo_service_layer.kernel.chain.evm_parts import EvmKernel

#: the gateways' name in ``network.json`` (N3 ``contracts``, Neo X ``neox.contracts``)
CONTRACT = "crosschain"


@dataclass
class CrosschainParts:
    store: SqlCrosschainStore
    chain: ChainKernel | None
    evm: EvmKernel | None
    #: the enclave key that signs messages and receipts (``None`` before ``nsl chain node`` made it)
    key: RoleKey | None
    #: the routes' reads: messages with their lease, delivery transaction and the live workers
    view: SqlMessageView

    @property
    def n3_gateway(self) -> str | None:
        return self.chain.contract(CONTRACT) if self.chain is not None else None

    @property
    def evm_gateway(self) -> str | None:
        return self.evm.contract(CONTRACT) if self.evm is not None else None

    def n3_chain_id(self) -> int:
        """The N3 network's cross-chain id, or ``ChainNotConfigured`` (503)."""
        if self.chain is None or self.chain.network.magic is None:
            raise ChainNotConfigured("no Neo N3 network is configured")
        return n3_chain_id(self.chain.network.magic)
