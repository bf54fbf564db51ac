"""The oracle service: web values fetched, filtered and signed in the enclave, on chain and off chain.

On chain: the worker watches the oracle contract and answers each request (``use_cases.fulfilment``);
templates let a tenant's request carry its sealed secrets. Off chain: ``POST /api/v1/oracle/fetch``.
Locally, ``nsl chain up`` creates the oracle key and deploys the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from neo_service_layer.kernel.chain.adapters.provisioning import (
    ChainHooks,
    EvmServiceContract,
    ProvisionContext,
    ServiceContract,
)
from neo_service_layer.kernel.chain.jobs import evm_watch_jobs, watch_jobs
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.enclave_client.evm_oracle import EvmOracleEnclave
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.oracle import routes
from neo_service_layer.services.oracle.adapters.oracle_key import (
    ORACLE_PUBLIC_KEY,
    ensure_evm_oracle_key,
    ensure_oracle_key,
    load_evm_oracle_key,
    load_oracle_key,
)
from neo_service_layer.services.oracle.adapters.payloads import OraclePayloads
from neo_service_layer.services.oracle.adapters.templates_store import OracleTemplates
from neo_service_layer.services.oracle.parts import CONTRACT, OracleParts
from neo_service_layer.services.oracle.scopes import ORACLE_REQUEST
from neo_service_layer.services.oracle.use_cases import fulfilment
from neo_service_layer.services.oracle.use_cases.evm import EVM_SERVICE, EvmOracleFulfiller, decode_evm_events
from neo_service_layer.services.oracle.use_cases.templates import OracleTemplateService
from neo_service_layer.services.secrets.api import Consumer, sealed_secret_reader

NAME = fulfilment.SERVICE

log = get_logger("nsl.oracle")


@asynccontextmanager
async def open_oracle(container: Container) -> AsyncIterator[OracleParts]:
    store = OracleTemplates(container.engine)
    yield OracleParts(
        chain=container.chain,
        key_store=container.platform_keys,
        enclave=lambda: container.enclave,
        clock=container.clock,
        store=store,
        templates=OracleTemplateService(store, container.clock),
        secrets=sealed_secret_reader(container, Consumer.ORACLE),
        # without a network the key is read when first needed (off-chain fetches), so a process starts
        # (and reports itself unready) while the database is down
        loaded_key=await load_oracle_key(container.platform_keys) if container.chain else None,
        evm=container.evm,
        evm_key=await load_evm_oracle_key(container.platform_keys) if container.evm else None,
    )


def oracle_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Watch the contracts (Neo N3, and Neo X when configured) and answer."""
    return [*oracle_n3_jobs(container), *oracle_evm_jobs(container)]


def oracle_evm_jobs(container: Container) -> list[PeriodicJob]:
    """Answer the EVM oracle contract's requests; none without an EVM chain, contract, sender or key."""
    parts = container.parts_of(NAME, OracleParts)
    evm = parts.evm
    contract = evm.contract(CONTRACT) if evm is not None else None
    if evm is None or contract is None:
        return []
    if evm.sender is None or parts.evm_key is None:
        log.warning("EVM sender or oracle key missing: EVM oracle jobs are off")
        return []
    # the EVM adapters (web3) are loaded only where an EVM chain is configured (``chain.parts.open_evm``)
    from neo_service_layer.services.oracle.adapters.evm_requests import ABI as EVM_ABI
    from neo_service_layer.services.oracle.adapters.evm_requests import EvmOracleGateway

    store = evm.requests(OraclePayloads())
    watcher = evm.watcher(EVM_SERVICE, contract, EVM_ABI, store, decode_evm_events)
    fulfiller = EvmOracleFulfiller(
        store,
        cast(EvmOracleEnclave, container.enclave),
        EvmOracleGateway(evm.chain, contract),
        evm.sender,
        evm.clock,
        key_id=parts.evm_key.key_id,
        worker_id=worker_identity(),
        lease_seconds=container.settings.neo_lease_seconds,
        fetch_concurrency=container.settings.oracle_fetch_concurrency,
    )
    return evm_watch_jobs(evm, EVM_SERVICE, watcher, fulfiller, evm.relay(EVM_SERVICE, evm.sender))


def oracle_n3_jobs(container: Container) -> list[PeriodicJob]:
    """Watch the N3 contract and answer; none without a network, a deployed contract or the key."""
    parts = container.parts_of(NAME, OracleParts)
    chain, contract, key = parts.chain, parts.contract, parts.loaded_key
    if chain is None or contract is None or key is None or chain.sender is None:
        log.info("oracle contract or oracle key missing: oracle jobs are off")
        return []
    settings = chain.settings
    store = chain.requests(OraclePayloads())
    watcher = chain.watcher(NAME, contract, store, fulfilment.decode_events)
    answerer = fulfilment.OracleAnswerer(parts.enclave, key, parts.store, parts.secrets, parts.clock)
    fulfiller = fulfilment.OracleFulfiller(
        chain.chain,
        store,
        answerer,
        chain.clock,
        chain.metrics,
        contract=contract,
        worker_id=worker_identity(),
        lease_seconds=settings.neo_lease_seconds,
        per_transaction=settings.oracle_answers_per_transaction,
        max_callback_gas=chain.max_callback_gas,
        fetch_concurrency=settings.oracle_fetch_concurrency,
    )
    return watch_jobs(chain, NAME, watcher, fulfiller)


async def prepare(context: ProvisionContext) -> Mapping[str, str]:
    """Create the oracle key; publish it for ``network.json`` (the feed contract trusts it too)."""
    key = await ensure_oracle_key(context.store, context.enclave, context.clock)
    return {ORACLE_PUBLIC_KEY: key.public_key.hex()}


async def evm_prepare(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> Mapping[str, str]:
    """The local Neo X chain: the EVM oracle key; publishes its address, the contract's ``signer``."""
    from neo_service_layer.kernel.chain.adapters.evm_signers import evm_address_of

    key = await ensure_evm_oracle_key(store, enclave, clock)
    return {CONTRACT: evm_address_of(key.public_key)}


def deploy_args(context: ProvisionContext) -> Sequence[Any]:
    """``_deploy`` data of the oracle contract: owner, operator, update delay, refund timeout, oracle
    public key."""
    return [*context.admin_args(), *context.funds_args(), context.public_key(ORACLE_PUBLIC_KEY)]


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Web values fetched, filtered and signed in the enclave, on chain and off chain",
    routers=(routes.router,),
    open=open_oracle,
    jobs=oracle_jobs,
    migrations=Path(__file__).parent / "migrations",
    chain=ChainHooks(
        prepare=prepare,
        contracts=(ServiceContract(CONTRACT, "oracle_service", deploy_args),),
        evm_prepare=evm_prepare,
        evm_contracts=(EvmServiceContract(CONTRACT, "OracleService", lambda signers: [signers[CONTRACT]]),),
    ),
    scopes=(ScopeGrant(ORACLE_REQUEST, (Role.DEVELOPER, Role.OPERATOR)),),
)
