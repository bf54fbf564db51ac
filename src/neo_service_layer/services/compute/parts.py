"""What the compute service's routes and jobs are handed: its functions, the key, the chain parts."""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.kernel.chain.parts import ChainKernel, on_chain
from neo_service_layer.kernel.chain.ports.chain import ChainNotConfigured
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.services.compute.adapters.compute_key import load_compute_key
from neo_service_layer.services.compute.adapters.payloads import ComputePayloads
from neo_service_layer.services.compute.adapters.store import ComputeStore
from neo_service_layer.services.compute.rules import ComputeKey
from neo_service_layer.services.compute.use_cases.functions import ComputeFunctions
from neo_service_layer.services.compute.use_cases.requests import ComputeRequests

SERVICE = "compute"
#: the contract's name in ``network.json`` and ``NSL_NEO_CONTRACTS``
CONTRACT = "compute"


class ComputeKeyReader:
    """The compute key, read from the platform's role keys once it exists."""

    def __init__(self, store: RoleKeyStore, loaded: ComputeKey | None = None) -> None:
        self._store = store
        self.loaded = loaded

    async def __call__(self) -> ComputeKey:
        """The key (created by ``nsl chain up``), or ``ChainNotConfigured`` (503)."""
        if self.loaded is None:
            self.loaded = await load_compute_key(self._store)
        if self.loaded is None:
            raise ChainNotConfigured("the compute key does not exist yet (run `nsl chain up`)")
        return self.loaded


@dataclass
class ComputeParts:
    """``chain`` is ``None`` without a configured network."""

    chain: ChainKernel | None
    keys: ComputeKeyReader
    store: ComputeStore
    functions: ComputeFunctions

    @property
    def contract(self) -> str | None:
        return self.chain.contract(CONTRACT) if self.chain is not None else None

    def on_chain(self) -> tuple[ChainKernel, str]:
        """The chain and the contract, or ``ChainNotConfigured`` (503)."""
        return on_chain(self.chain, CONTRACT)

    async def key(self) -> ComputeKey:
        return await self.keys()

    def requests(self) -> ComputeRequests:
        """The state of on-chain requests (stored, else as the contract says), or ``ChainNotConfigured``."""
        chain, contract = self.on_chain()
        return ComputeRequests(chain.requests(ComputePayloads()), chain.chain, contract=contract)
