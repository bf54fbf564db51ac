"""A node for Neo's native Oracle: requests read from the native contract, fetched, filtered, built into
``OracleResponse`` transactions and signed by the enclave (``native_oracle_respond``) with its designated
node key; the worker records, sends and hands on what the enclave signed.

Active where this installation holds a designated node key (``NSL_NEO_NATIVE_ORACLE``, default on).
Locally, ``nsl chain up`` creates the node key and designates it for the Oracle role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks, ProvisionContext
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount
from neo_service_layer.kernel.chain.jobs import watch_jobs
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.native_oracle import use_cases
from neo_service_layer.services.native_oracle.adapters.node import (
    NeoNativeOracle,
    designate_oracles,
    designated_oracles,
    ensure_native_oracle_key,
    load_native_oracle_key,
)
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.ports import NotAnOracleNode
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT

NAME = use_cases.SERVICE
#: the node key's name in ``network.json``
NODE_PUBLIC_KEY = "native_oracle"

log = get_logger("nsl.native_oracle")


@dataclass(frozen=True, slots=True)
class NativeOracleKeys:
    """The designated node key (``None`` until ``nsl chain up`` or an operator created it)."""

    node: EnclaveAccount | None

    async def published_keys(self) -> dict[str, str]:
        return {NODE_PUBLIC_KEY: self.node.public_key.hex()} if self.node is not None else {}


@asynccontextmanager
async def open_native_oracle(container: Container) -> AsyncIterator[NativeOracleKeys]:
    store = container.platform_keys
    if container.chain is None:  # nothing to answer; start without touching the database
        yield NativeOracleKeys(None)
        return
    yield NativeOracleKeys(await load_native_oracle_key(store))


def native_oracle_jobs(container: Container) -> Sequence[PeriodicJob]:
    """Watch the native Oracle contract and answer; none without a node key (or when turned off)."""
    keys = container.parts_of(NAME, NativeOracleKeys)
    chain = container.chain
    if chain is None or keys.node is None or not chain.settings.neo_native_oracle:
        log.info("no native oracle node key (or turned off): native oracle jobs are off")
        return []
    settings = chain.settings
    store = chain.requests(NativeOraclePayloads())
    watcher = chain.watcher(NAME, ORACLE_CONTRACT, store, use_cases.decode_events)
    node = NeoNativeOracle(
        chain.chain,
        chain.enclave,
        keys.node,
        valid_until_blocks=settings.neo_valid_until_blocks,
        peers=settings.neo_oracle_peers,
    )
    fulfiller = use_cases.NativeOracleFulfiller(
        chain.chain,
        node,
        store,
        chain.clock,
        chain.metrics,
        worker_id=worker_identity(),
        lease_seconds=settings.neo_lease_seconds,
        concurrency=settings.oracle_fetch_concurrency * 2,
        max_responses=settings.neo_native_oracle_max_responses,
    )
    return watch_jobs(chain, NAME, watcher, fulfiller, quiet=(ChainUnavailable, NotAnOracleNode))


async def prepare(context: ProvisionContext) -> Mapping[str, str]:
    """Create the node key and designate it for Neo's Oracle role (replacing any other designation)."""
    key = await ensure_native_oracle_key(context.store, context.enclave, context.clock)
    if key.public_key not in await designated_oracles(context.rpc_url):
        committee = deploy.committee_invoker(
            deploy.make_facade(context.rpc_url, context.block_time), context.block_time
        )
        await designate_oracles(committee, [key.public_key])
    return {NODE_PUBLIC_KEY: key.public_key.hex()}


SERVICE = ServiceDescriptor(
    name=NAME,
    summary="A node for Neo's native Oracle, its key held by the enclave",
    open=open_native_oracle,
    jobs=native_oracle_jobs,
    chain=ChainHooks(prepare=prepare),
)
