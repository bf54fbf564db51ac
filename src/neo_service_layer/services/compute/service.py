"""The compute service: tenants' functions (Python, JavaScript, WebAssembly) run sandboxed in the
enclave with their secrets; results signed off chain (receipts) and answered on chain.

Off chain: ``/api/v1/compute``. On chain: the compute contract (``contracts/compute_service.py``);
locally, ``nsl chain up`` creates the compute key and deploys the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks, ProvisionContext, ServiceContract
from neo_service_layer.kernel.chain.jobs import watch_jobs
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import Command, ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.compute import routes
from neo_service_layer.services.compute.adapters.builders import BuildFailed, build
from neo_service_layer.services.compute.adapters.compute_key import (
    COMPUTE_PUBLIC_KEY,
    ensure_compute_key,
    load_compute_key,
)
from neo_service_layer.services.compute.adapters.metrics import ComputeMetrics
from neo_service_layer.services.compute.adapters.payloads import ComputePayloads
from neo_service_layer.services.compute.adapters.store import ComputeStore
from neo_service_layer.services.compute.cli import compute_app
from neo_service_layer.services.compute.parts import CONTRACT, ComputeKeyReader, ComputeParts
from neo_service_layer.services.compute.parts import SERVICE as NAME
from neo_service_layer.services.compute.rules import BuildRefused
from neo_service_layer.services.compute.scopes import COMPUTE_READ, COMPUTE_WRITE
from neo_service_layer.services.compute.use_cases import fulfilment
from neo_service_layer.services.compute.use_cases.functions import ComputeFunctions
from neo_service_layer.services.secrets.api import Consumer, sealed_secret_reader

log = get_logger("nsl.compute")


async def _build(language: str, source: str) -> bytes:
    try:
        return await build(language, source)
    except BuildFailed as exc:
        raise BuildRefused(str(exc)) from None


def _maxima(container: Container) -> dict[str, int]:
    s = container.settings
    return {
        "fuel": s.compute_max_fuel,
        "memory_bytes": s.compute_max_memory_mb * 1024 * 1024,
        "wall_ms": s.compute_max_wall_ms,
        "fetches": s.compute_max_fetches,
        "result_bytes": s.compute_max_result_bytes,
    }


@asynccontextmanager
async def open_compute(container: Container) -> AsyncIterator[ComputeParts]:
    store = ComputeStore(container.engine)
    # without a network the key is read when first needed, so a process starts while the database is down
    keys = ComputeKeyReader(
        container.platform_keys,
        await load_compute_key(container.platform_keys) if container.chain else None,
    )
    functions = ComputeFunctions(
        store,
        lambda: container.enclave,
        _build,
        sealed_secret_reader(container, Consumer.COMPUTE),
        keys,
        container.clock,
        container.iam.audit_log,
        _maxima(container),
        ComputeMetrics(container.registry),
    )
    yield ComputeParts(chain=container.chain, keys=keys, store=store, functions=functions)


def compute_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Watch the contract and answer; none without a network, a deployed contract or the key."""
    parts = container.parts_of(NAME, ComputeParts)
    chain, contract, key = parts.chain, parts.contract, parts.keys.loaded
    if chain is None or contract is None or key is None or chain.sender is None:
        log.info("compute contract or compute key missing: compute jobs are off")
        return []
    store = chain.requests(ComputePayloads())
    watcher = chain.watcher(NAME, contract, store, fulfilment.decode_events)
    answerer = fulfilment.ComputeAnswerer(lambda: container.enclave, key, parts.store, parts.functions)
    fulfiller = fulfilment.ComputeFulfiller(
        chain.chain,
        store,
        answerer,
        chain.clock,
        chain.metrics,
        contract=contract,
        worker_id=worker_identity(),
        # a run may take up to the operator's wall-time maximum: the lease outlasts it
        lease_seconds=max(
            chain.settings.neo_lease_seconds, container.settings.compute_max_wall_ms / 1000 + 30
        ),
        max_callback_gas=chain.max_callback_gas,
        run_concurrency=container.settings.compute_concurrency,
    )
    return watch_jobs(chain, NAME, watcher, fulfiller)


async def prepare(context: ProvisionContext) -> Mapping[str, str]:
    """Create the compute key; publish it for ``network.json``."""
    key = await ensure_compute_key(context.store, context.enclave, context.clock)
    return {COMPUTE_PUBLIC_KEY: key.public_key.hex()}


def deploy_args(context: ProvisionContext) -> Sequence[Any]:
    """``_deploy`` data of the compute contract: owner, operator, update delay, refund timeout, compute
    public key."""
    return [*context.admin_args(), *context.funds_args(), context.public_key(COMPUTE_PUBLIC_KEY)]


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Tenants' WebAssembly functions run in the enclave with their secrets; results signed",
    routers=(routes.router,),
    open=open_compute,
    jobs=compute_jobs,
    migrations=Path(__file__).parent / "migrations",
    commands=lambda _open: [Command("compute", compute_app)],
    chain=ChainHooks(prepare=prepare, contracts=(ServiceContract(CONTRACT, "compute_service", deploy_args),)),
    scopes=(
        ScopeGrant(COMPUTE_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),
        ScopeGrant(COMPUTE_WRITE, (Role.DEVELOPER, Role.OPERATOR)),
    ),
)
