"""A node for Neo's native Oracle: requests read from the native contract, fetched, filtered, built into
``OracleResponse`` transactions and signed by the enclave (``native_oracle_respond``) with its designated
node key; the worker records, sends and hands on what the enclave signed.

Active where this installation holds a designated node key (``NSL_NEO_NATIVE_ORACLE``, default on).
Locally, ``nsl chain up`` creates the node key and designates it for the Oracle role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks, ProvisionContext
from neo_service_layer.kernel.chain.jobs import watch_jobs
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.kernel.worker.jobs import PeriodicJob, worker_identity
from neo_service_layer.services.native_oracle import use_cases
from neo_service_layer.services.native_oracle.adapters.multisig import NeoMultisig
from neo_service_layer.services.native_oracle.adapters.node import (
    NeoNativeOracle,
    designate_oracles,
    designated_oracles,
    ensure_native_oracle_key,
    load_native_oracle_key,
    oracle_nodes,
)
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.adapters.signatures import SqlSignatureStore
from neo_service_layer.services.native_oracle.gathering import SignatureGatherer
from neo_service_layer.services.native_oracle.parts import NODE_PUBLIC_KEY, NativeOracleKeys
from neo_service_layer.services.native_oracle.ports import NotAnOracleNode
from neo_service_layer.services.native_oracle.routes import router
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT

NAME = use_cases.SERVICE

log = get_logger("nsl.native_oracle")


@asynccontextmanager
async def open_native_oracle(container: Container) -> AsyncIterator[NativeOracleKeys]:
    store = container.platform_keys
    chain = container.chain
    if chain is None:  # nothing to answer; start without touching the database
        yield NativeOracleKeys(None)
        return
    node = await load_native_oracle_key(store)
    if node is None or not chain.settings.neo_native_oracle:
        yield NativeOracleKeys(node)
        return
    gatherer = SignatureGatherer(
        SqlSignatureStore(chain.engine),
        NeoMultisig(chain.chain.magic),
        lambda: oracle_nodes(chain.chain),
        chain.clock,
    )
    yield NativeOracleKeys(node, gatherer)


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
        gatherer=keys.gatherer,
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
    routers=(router,),
    jobs=native_oracle_jobs,
    migrations=Path(__file__).parent / "migrations",
    chain=ChainHooks(prepare=prepare),
)
