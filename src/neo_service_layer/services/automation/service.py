"""The automation service: upkeeps registered on the automation contract run once per due occurrence.

The worker's scheduler reads each block after its cursor and records what is due (cron, intervals,
matching events, conditions); the fulfiller performs each occurrence once through the contract, which
checks the occurrence, the balance and the gas limit itself. ``GET /api/v1/automation/upkeeps`` shows
each upkeep's state, next due time, balance and why a run did not happen. Locally, ``nsl chain up``
deploys the contract. Tenants' own jobs (``/api/v1/automation/jobs``: a signed webhook on a cron or
interval trigger) need no chain: the worker's ``automation-tenant-jobs`` job fires them; with a network,
``automation-job-blocks`` records the runs of event and condition jobs from each new block;
``automation-job-cleanup`` deletes finished runs past the retention.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks, ProvisionContext, ServiceContract
from neo_service_layer.kernel.chain.jobs import Quiet, watch_jobs
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.automation import job_routes, routes
from neo_service_layer.services.automation.adapters.job_block_store import SqlJobBlockStore, SqlJobRunJanitor
from neo_service_layer.services.automation.adapters.job_call_store import SqlJobCallStore
from neo_service_layer.services.automation.adapters.job_chain import EnclaveJobChains
from neo_service_layer.services.automation.adapters.job_store import SqlJobStore
from neo_service_layer.services.automation.adapters.metrics import AutomationMetrics, JobMetrics
from neo_service_layer.services.automation.adapters.payloads import RunPayloads
from neo_service_layer.services.automation.adapters.upkeep_store import SqlUpkeepStore
from neo_service_layer.services.automation.adapters.webhooks import GuardedWebhooks
from neo_service_layer.services.automation.parts import CONTRACT, AutomationParts
from neo_service_layer.services.automation.scopes import AUTOMATION_READ, AUTOMATION_WRITE
from neo_service_layer.services.automation.use_cases.fulfiller import AutomationFulfiller
from neo_service_layer.services.automation.use_cases.job_blocks import JobBlockScanner
from neo_service_layer.services.automation.use_cases.job_calls import ContractCaller
from neo_service_layer.services.automation.use_cases.job_cleanup import JobRunCleanup
from neo_service_layer.services.automation.use_cases.job_runner import CallParts, JobRunner
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE as NAME
from neo_service_layer.services.automation.use_cases.scheduler import AutomationScheduler
from neo_service_layer.services.automation.use_cases.tenant_jobs import TenantJobs
from neo_service_layer.services.secrets.api import SourceUrlPolicy

log = get_logger("nsl.automation")


#: how often the worker looks for tenant jobs that are due, and deletes old runs
TENANT_JOBS_EVERY = timedelta(seconds=1)
JOB_CLEANUP_EVERY = timedelta(minutes=10)


def _webhooks(container: Container) -> GuardedWebhooks:
    """The SSRF guard of webhooks takes the oracle's operator settings (allowed hosts, plain http)."""
    settings = container.settings
    return GuardedWebhooks(SourceUrlPolicy.of(settings.oracle_allow_hosts, settings.oracle_allow_http))


@asynccontextmanager
async def open_automation(container: Container) -> AsyncIterator[AutomationParts]:
    metrics = AutomationMetrics(container.registry) if container.chain is not None else None
    box = AesGcmBox(resolve_kek(container.settings))
    store = SqlJobStore(container.engine)
    heights = container.chain.chain if container.chain is not None else None
    jobs = TenantJobs(
        store,
        box,
        _webhooks(container),
        container.clock,
        container.iam.audit_log,
        chain=heights,
        grants=_job_chains(container),
        balances=heights,
    )
    yield AutomationParts(
        container.chain,
        SqlUpkeepStore(container.engine),
        metrics,
        jobs=jobs,
        job_metrics=JobMetrics(container.registry),
    )


def _job_chains(container: Container) -> EnclaveJobChains | None:
    """Tenant jobs' contract calls on the configured Neo network (``None``: no network, none made)."""
    chain = container.chain
    if chain is None:
        return None
    return EnclaveJobChains(chain.chain.pool, chain.chain.magic, chain.enclave)


def tenant_job_runner(container: Container) -> JobRunner:
    """The worker's runner of tenant jobs (webhooks under the job's sealed secret, contract calls signed
    in the enclave within the job's grant)."""
    box = AesGcmBox(resolve_kek(container.settings))
    store = SqlJobStore(container.engine)
    observer = container.parts_of(NAME, AutomationParts).job_metrics
    chains = _job_chains(container)
    calls = (
        CallParts(ContractCaller(chains, container.clock), SqlJobCallStore(container.engine))
        if chains is not None
        else None
    )
    return JobRunner(
        store,
        box,
        _webhooks(container),
        container.clock,
        worker_id=worker_identity(),
        observer=observer,
        calls=calls,
    )


def tenant_job_extras(container: Container) -> list[PeriodicJob]:
    """The clean-up of old runs; and, with a Neo network, the block scanner of event and condition jobs."""
    cleanup = JobRunCleanup(
        SqlJobRunJanitor(container.engine),
        container.clock,
        retention_days=container.settings.automation_job_run_retention_days,
    )

    async def clean() -> None:
        await cleanup.run_once()

    extras = [PeriodicJob("automation-job-cleanup", JOB_CLEANUP_EVERY, clean)]
    parts = container.parts_of(NAME, AutomationParts)
    chain = container.chain
    if chain is None or parts.job_metrics is None:
        return extras
    blocks = SqlJobBlockStore(container.engine)
    scanner = JobBlockScanner(chain.chain, blocks, container.clock, parts.job_metrics)
    quiet = Quiet("automation-job-blocks")

    async def scan() -> None:
        try:
            await scanner.poll()
        except ChainUnavailable as exc:
            quiet.unavailable(exc)

    return [*extras, PeriodicJob("automation-job-blocks", timedelta(seconds=chain.poll_interval), scan)]


def automation_jobs(container: Container) -> Sequence[PeriodicJob]:
    """The tenant jobs' runner; and schedule and perform upkeeps unless the network, the deployed
    contract or the sender is missing."""
    runner = tenant_job_runner(container)

    async def run_tenant_jobs() -> None:
        await runner.run_once()

    tenant_jobs = PeriodicJob(
        "automation-tenant-jobs", TENANT_JOBS_EVERY, run_tenant_jobs, close=runner.close
    )
    extras = tenant_job_extras(container)
    parts = container.parts_of(NAME, AutomationParts)
    chain, contract = parts.chain, parts.contract
    metrics = parts.metrics
    if chain is None or contract is None or chain.sender is None or metrics is None:
        log.warning("automation contract or sender missing: upkeeps are not served (tenant jobs are)")
        return [tenant_jobs, *extras]
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
    return [tenant_jobs, *extras, *watch_jobs(chain, NAME, scheduler, fulfiller)]


def deploy_args(context: ProvisionContext) -> Sequence[Any]:
    """``_deploy`` data of the automation contract: owner, operator, update delay, refund timeout."""
    return [*context.admin_args(), *context.funds_args()]


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Automation: upkeeps run once per due occurrence (cron, interval, event, condition)",
    routers=(routes.router, job_routes.router),
    open=open_automation,
    jobs=automation_jobs,
    migrations=Path(__file__).parent / "migrations",
    chain=ChainHooks(contracts=(ServiceContract(CONTRACT, "automation_service", deploy_args),)),
    scopes=(
        ScopeGrant(AUTOMATION_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),
        ScopeGrant(AUTOMATION_WRITE, (Role.DEVELOPER, Role.OPERATOR)),
    ),
)
