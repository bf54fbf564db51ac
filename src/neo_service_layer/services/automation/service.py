"""The automation service: upkeeps registered on the automation contract run once per due occurrence.

The worker's scheduler reads each block after its cursor and records what is due (cron, intervals,
matching events, conditions); the fulfiller performs each occurrence once through the contract, which
checks the occurrence, the balance and the gas limit itself. ``GET /api/v1/automation/upkeeps`` shows
each upkeep's state, next due time, balance and why a run did not happen. Locally, ``nsl chain up``
deploys the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks, ProvisionContext, ServiceContract
from neo_service_layer.kernel.chain.jobs import watch_jobs
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.automation import routes
from neo_service_layer.services.automation.adapters.metrics import AutomationMetrics
from neo_service_layer.services.automation.adapters.payloads import RunPayloads
from neo_service_layer.services.automation.adapters.upkeep_store import SqlUpkeepStore
from neo_service_layer.services.automation.parts import CONTRACT, AutomationParts
from neo_service_layer.services.automation.scopes import AUTOMATION_READ
from neo_service_layer.services.automation.use_cases.fulfiller import AutomationFulfiller
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE as NAME
from neo_service_layer.services.automation.use_cases.scheduler import AutomationScheduler

log = get_logger("nsl.automation")


@asynccontextmanager
async def open_automation(container: Container) -> AsyncIterator[AutomationParts]:
    metrics = AutomationMetrics(container.registry) if container.chain is not None else None
    yield AutomationParts(container.chain, SqlUpkeepStore(container.engine), metrics)


def automation_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Schedule and perform; none without a network, a deployed contract or a sender."""
    parts = container.parts_of(NAME, AutomationParts)
    chain, contract = parts.chain, parts.contract
    metrics = parts.metrics
    if chain is None or contract is None or chain.sender is None or metrics is None:
        log.warning("automation contract or sender missing: automation jobs are off")
        return []
    store = chain.requests(RunPayloads())
    scheduler = AutomationScheduler(
        chain.chain,
        store,
        parts.upkeeps,
        chain.clock,
        metrics,
        chain.metrics,
        contract=contract,
        start_block=chain.network.start_block,
    )
    fulfiller = AutomationFulfiller(
        chain.chain,
        store,
        parts.upkeeps,
        chain.clock,
        metrics,
        chain.metrics,
        contract=contract,
        worker_id=worker_identity(),
        lease_seconds=chain.settings.neo_lease_seconds,
    )
    return watch_jobs(chain, NAME, scheduler, fulfiller)


def deploy_args(context: ProvisionContext) -> Sequence[Any]:
    """``_deploy`` data of the automation contract: owner, operator, update delay, refund timeout."""
    return [*context.admin_args(), *context.funds_args()]


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Automation: upkeeps run once per due occurrence (cron, interval, event, condition)",
    routers=(routes.router,),
    open=open_automation,
    jobs=automation_jobs,
    migrations=Path(__file__).parent / "migrations",
    chain=ChainHooks(contracts=(ServiceContract(CONTRACT, "automation_service", deploy_args),)),
    scopes=(ScopeGrant(AUTOMATION_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),),
)
