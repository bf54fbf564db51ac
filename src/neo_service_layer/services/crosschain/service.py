"""The cross-chain service: verified messages between Neo N3 and Neo X, relayed by the worker.

Each chain has a message gateway (N3: ``contracts/message_gateway.py``; Neo X:
``contracts/evm/MessageGateway.sol``). The worker watches both (``use_cases.watch``), carries each
message to its destination and each attempt's receipt back to its source (``use_cases.deliver``): the
enclave signs them from what it reads itself on the source chain; our transactions go through each
chain's outbox, settled by the outbox relays. ``GET /api/v1/crosschain/messages`` shows where each is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import cast

from neo_service_layer.kernel.chain.adapters.provisioning import (
    ChainHooks,
    EvmServiceContract,
    ServiceContract,
)
from neo_service_layer.kernel.chain.adapters.service_keys import load_role_key
from neo_service_layer.kernel.chain.jobs import Quiet
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.chain.use_cases.evm_outbox import EvmOutboxRelay
from neo_service_layer.kernel.chain.use_cases.outbox import OutboxRelay
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.enclave_client.crosschain import CrossChainEnclave
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable
from neo_service_layer.kernel.identity.rules.access import ScopeGrant
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.crosschain import routes
from neo_service_layer.services.crosschain.adapters import local_chains, n3_gateway
from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.adapters.view import SqlMessageView
from neo_service_layer.services.crosschain.parts import CONTRACT, CrosschainParts
from neo_service_layer.services.crosschain.scopes import CROSSCHAIN_READ
from neo_service_layer.services.crosschain.use_cases.deliver import Destination, Relay
from neo_service_layer.services.crosschain.use_cases.watch import GatewayWatcher

NAME = "crosschain"

log = get_logger("nsl.crosschain")


@asynccontextmanager
async def open_crosschain(container: Container) -> AsyncIterator[CrosschainParts]:
    key = (
        await load_role_key(container.platform_keys, local_chains.KEY_ROLE)
        if container.chain or container.evm
        else None
    )
    engine = container.engine
    yield CrosschainParts(
        SqlCrosschainStore(engine), container.chain, container.evm, key, SqlMessageView(engine)
    )


def crosschain_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Watch both gateways, relay to both chains, settle both outboxes; none without both gateways."""
    parts = container.parts_of(NAME, CrosschainParts)
    chain, evm = parts.chain, parts.evm
    n3_address, evm_address = parts.n3_gateway, parts.evm_gateway
    if chain is None or evm is None or n3_address is None or evm_address is None:
        return []
    if parts.key is None or chain.sender is None or evm.sender is None:
        log.warning("cross-chain key or a sender missing: cross-chain jobs are off")
        return []
    # the EVM adapters (web3) are loaded only where an EVM chain is configured (``chain.parts.open_evm``)
    from neo_service_layer.kernel.chain.adapters.evm_events import EvmEventSource
    from neo_service_layer.services.crosschain.adapters import evm_gateway

    store, clock, settings = parts.store, container.clock, container.settings
    n3_id = parts.n3_chain_id()
    depth = evm.network.confirmations
    evm_source = EvmEventSource(evm.chain, {evm_address: evm_gateway.ABI}, confirmations=depth)
    watchers = [
        GatewayWatcher(
            chain.chain, store, clock, chain_id=n3_id, gateway=n3_address,
            decode=n3_gateway.n3_decoder(n3_id), start_block=chain.network.start_block,
        ),
        GatewayWatcher(
            evm_source,
            store, clock, chain_id=evm.network.chain_id, gateway=evm_address,
            decode=evm_gateway.evm_decoder(evm.network.chain_id), start_block=evm.network.start_block,
        ),
    ]  # fmt: skip
    enclave = cast(CrossChainEnclave, container.enclave)
    destinations: list[Destination] = [
        n3_gateway.N3Gateway(chain.chain, n3_address, n3_id),
        evm_gateway.EvmGateway(evm.chain, evm_address, evm.sender),
    ]
    relays = [
        Relay(
            store, enclave, d, clock, key_id=parts.key.key_id, worker_id=worker_identity(),
            lease_seconds=settings.neo_lease_seconds,
        )
        for d in destinations
    ]  # fmt: skip
    outboxes: list[OutboxRelay | EvmOutboxRelay] = [
        OutboxRelay(
            chain.chain, store, clock, chain.metrics, service=n3_gateway.OUTBOX_SERVICE,
            resend_after=timedelta(seconds=max(chain.network.block_time * 2, 0.5)),
        ),
        EvmOutboxRelay(
            evm.sender, store, clock, evm.metrics, service=evm_gateway.OUTBOX_SERVICE,
            resend_after=timedelta(seconds=settings.evm_resend_seconds),
            replace_after=settings.evm_replace_after_sends,
        ),
    ]  # fmt: skip
    quiet = (ChainUnavailable, EnclaveUnavailable)
    quiet_watch, quiet_outbox = Quiet(NAME), Quiet(f"{NAME}-outbox")
    interval = timedelta(seconds=min(chain.poll_interval, evm.poll_interval))

    async def watch() -> None:
        try:
            for watcher in watchers:
                await watcher.poll()
        except quiet as exc:
            quiet_watch.unavailable(exc)

    def relay_job(relay: Relay, name: str) -> PeriodicJob:
        quiet_relay = Quiet(name)

        async def run() -> None:
            try:
                await relay.run_once()
            except quiet as exc:
                quiet_relay.unavailable(exc)

        return PeriodicJob(name, interval, run)

    async def settle() -> None:
        try:
            for outbox in outboxes:
                await outbox.run_once()
        except quiet as exc:
            quiet_outbox.unavailable(exc)

    return [
        PeriodicJob(NAME, interval, watch),
        # one relay job per destination chain: a busy chain never holds up the other's deliveries
        relay_job(relays[0], f"{NAME}-relay-n3"),
        relay_job(relays[1], f"{NAME}-relay-neox"),
        PeriodicJob(f"{NAME}-outbox", interval * 2, settle),
    ]


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="Verified messages between Neo N3 and Neo X, signed in the enclave from what it read",
    routers=(routes.router,),
    open=open_crosschain,
    jobs=crosschain_jobs,
    migrations=Path(__file__).parent / "migrations",
    scopes=(ScopeGrant(CROSSCHAIN_READ, (Role.DEVELOPER, Role.OPERATOR, Role.AUDITOR, Role.VIEWER)),),
    chain=ChainHooks(
        prepare=local_chains.prepare,
        contracts=(ServiceContract(CONTRACT, "message_gateway", local_chains.deploy_args),),
        evm_prepare=local_chains.evm_prepare,
        evm_contracts=(EvmServiceContract(CONTRACT, "MessageGateway", local_chains.evm_deploy_args),),
        link=local_chains.link,
    ),
)

__all__ = ["CONTRACT", "SERVICE"]
