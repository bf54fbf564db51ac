"""What the automation service's routes and jobs are handed: the chain parts and the upkeep store."""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.kernel.chain.parts import ChainKernel, on_chain
from neo_service_layer.services.automation.adapters.metrics import AutomationMetrics
from neo_service_layer.services.automation.adapters.upkeep_store import SqlUpkeepStore

#: the contract's name in ``network.json`` and ``NSL_NEO_CONTRACTS``
CONTRACT = "automation"


@dataclass
class AutomationParts:
    """``chain`` is ``None`` without a configured network."""

    chain: ChainKernel | None
    upkeeps: SqlUpkeepStore
    #: registered with the chain's metrics (every process with a network); counted where the jobs run
    metrics: AutomationMetrics | None

    @property
    def contract(self) -> str | None:
        return self.chain.contract(CONTRACT) if self.chain is not None else None

    def on_chain(self) -> tuple[ChainKernel, str]:
        """The chain and the contract, or ``ChainNotConfigured`` (503)."""
        return on_chain(self.chain, CONTRACT)
