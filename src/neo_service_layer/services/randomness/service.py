"""The randomness service: verifiable random numbers on chain (answered in the next block) and off chain.

On chain: the worker watches the randomness contract, proves and signs each request in the enclave and
sends the fulfilment (``use_cases``). Off chain: ``POST /api/v1/randomness`` gives words with the same
proof. Locally, ``nsl chain up`` creates the service's keys and deploys its contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
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
from neo_service_layer.kernel.enclave_client.evm_randomness import EvmRandomnessEnclave
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import Command, ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.randomness import routes, use_cases
from neo_service_layer.services.randomness.adapters.keys import (
    ensure_evm_randomness_key,
    ensure_randomness_keys,
    evm_address,
    load_evm_randomness_keys,
    load_randomness_keys,
    public_keys,
)
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.cli import randomness_app
from neo_service_layer.services.randomness.parts import CONTRACT, RandomnessParts
from neo_service_layer.services.randomness.scopes import RANDOMNESS_REQUEST
from neo_service_layer.services.randomness.use_cases.evm import (
    EVM_SERVICE,
    EvmRandomnessFulfiller,
    decode_evm_events,
)

NAME = use_cases.SERVICE

log = get_logger("nsl.randomness")


@asynccontextmanager
async def open_randomness(container: Container) -> AsyncIterator[RandomnessParts]:
    # without a network the keys are read when first needed (off-chain randomness), so a process starts
    # (and reports itself unready) while the database is down
    keys = await load_randomness_keys(container.platform_keys) if container.chain else None
    evm_keys = await load_evm_randomness_keys(container.platform_keys) if container.evm else None
    yield RandomnessParts(
        container.chain, container.platform_keys, lambda: container.enclave, keys, evm_keys, container.evm
    )


def randomness_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Watch the contracts (Neo N3, and Neo X when configured) and fulfil."""
    return [*randomness_n3_jobs(container), *randomness_evm_jobs(container)]


def randomness_n3_jobs(container: Container) -> list[PeriodicJob]:
    """Watch the N3 contract and fulfil; none without a network, a deployed contract or keys."""
    parts = container.parts_of(NAME, RandomnessParts)
    chain, contract = parts.chain, parts.contract
    keys = parts.loaded_keys
    if chain is None or contract is None or keys is None or chain.sender is None:
        log.warning("randomness contract or service keys missing: randomness jobs are off")
        return []
    settings = chain.settings
    store = chain.requests(RandomnessPayloads())
    watcher = chain.watcher(NAME, contract, store, use_cases.decode_events)
    fulfiller = use_cases.RandomnessFulfiller(
        chain.chain,
        store,
        chain.enclave,
        chain.clock,
        chain.metrics,
        contract=contract,
        keys=keys,
        worker_id=worker_identity(),
        lease_seconds=settings.neo_lease_seconds,
        per_transaction=settings.neo_fulfilments_per_transaction,
        max_callback_gas=chain.max_callback_gas,
    )
    return watch_jobs(chain, NAME, watcher, fulfiller)


def randomness_evm_jobs(container: Container) -> list[PeriodicJob]:
    """Answer the EVM randomness contract's requests; none without an EVM chain, contract, sender or keys."""
    evm = container.evm
    contract = evm.contract(CONTRACT) if evm is not None else None
    if evm is None or contract is None:
        return []
    keys = container.parts_of(NAME, RandomnessParts).evm_keys
    if evm.sender is None or keys is None:
        log.warning("EVM sender or randomness keys missing: EVM randomness jobs are off")
        return []
    # the EVM adapters (web3) are loaded only where an EVM chain is configured (``chain.parts.open_evm``)
    from neo_service_layer.services.randomness.adapters.evm_requests import ABI, EvmRandomnessGateway

    store = evm.requests(RandomnessPayloads())
    gateway = EvmRandomnessGateway(evm.chain, contract)
    watcher = evm.watcher(EVM_SERVICE, contract, ABI, store, decode_evm_events)
    fulfiller = EvmRandomnessFulfiller(
        store,
        cast(EvmRandomnessEnclave, container.enclave),
        gateway,
        evm.sender,
        evm.clock,
        keys=keys,
        worker_id=worker_identity(),
        lease_seconds=container.settings.neo_lease_seconds,
    )
    return evm_watch_jobs(evm, EVM_SERVICE, watcher, fulfiller, evm.relay(EVM_SERVICE, evm.sender))


async def prepare(context: ProvisionContext) -> Mapping[str, str]:
    """Create the ECDSA and BLS keys; publish them for ``network.json``."""
    return public_keys(await ensure_randomness_keys(context.store, context.enclave, context.clock))


def deploy_args(context: ProvisionContext) -> Sequence[Any]:
    """``_deploy`` data of the randomness contract: owner, operator, update delay, refund timeout, ECDSA
    public key, BLS public key."""
    keys = [context.public_key("randomness_ecdsa"), context.public_key("randomness_bls")]
    return [*context.admin_args(), *context.funds_args(), *keys]


async def evm_prepare(store: RoleKeyStore, enclave: Enclave, clock: Clock) -> Mapping[str, str]:
    """The local Neo X chain: the BLS key (shared with N3) and the EVM key; publishes the EVM key's
    address, the ``signer`` the EVM randomness contract is deployed with."""
    await ensure_randomness_keys(store, enclave, clock)
    key = await ensure_evm_randomness_key(store, enclave, clock)
    return {"randomness": evm_address(key.public_key)}


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Verifiable randomness (BLS proof, ECDSA-signed) on chain and off chain",
    routers=(routes.router,),
    open=open_randomness,
    jobs=randomness_jobs,
    commands=lambda _open: [Command("randomness", randomness_app)],
    chain=ChainHooks(
        prepare=prepare,
        contracts=(ServiceContract(CONTRACT, "randomness_service", deploy_args),),
        evm_prepare=evm_prepare,
        evm_contracts=(
            EvmServiceContract(CONTRACT, "RandomnessService", lambda signers: [signers[CONTRACT]]),
        ),
    ),
    scopes=(ScopeGrant(RANDOMNESS_REQUEST, (Role.DEVELOPER, Role.OPERATOR)),),
)
