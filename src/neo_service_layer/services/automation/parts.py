"""What the automation service's routes and jobs are handed: the chain parts, the upkeep store and the
tenant jobs."""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.kernel.chain.parts import ChainKernel, on_chain
from neo_service_layer.services.automation.adapters.metrics import AutomationMetrics, JobMetrics
from neo_service_layer.services.automation.adapters.upkeep_store import SqlUpkeepStore
from neo_service_layer.services.automation.use_cases.tenant_jobs import TenantJobs

#: the contract's name in ``network.json`` and ``NSL_NEO_CONTRACTS``
CONTRACT = "automation"


@dataclass
class AutomationParts:
    """``chain`` is ``None`` without a configured network; the tenant jobs need none."""

    chain: ChainKernel | None
    upkeeps: SqlUpkeepStore
    #: registered with the chain's metrics (every process with a network); counted where the jobs run
    metrics: AutomationMetrics | None
    #: tenants' webhook jobs over the API (``job_routes``)
    jobs: TenantJobs
    #: tenant-job runs by kind and outcome (every process; counted where the jobs run)
    job_metrics: JobMetrics | None = None

    @property
    def contract(self) -> str | None:
        return self.chain.contract(CONTRACT) if self.chain is not None else None

    def on_chain(self) -> tuple[ChainKernel, str]:
        """The chain and the contract, or ``ChainNotConfigured`` (503)."""
        return on_chain(self.chain, CONTRACT)
