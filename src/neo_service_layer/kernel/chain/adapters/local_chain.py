"""The embedded local chain: a neo-go privnet under ``<data_dir>/chain`` with the service contracts deployed.

``provision`` is idempotent: on a chain that already has the service contracts recorded in
``network.json`` (same magic and keys, contracts still there) it only refreshes the RPC URL; otherwise it
deploys the missing contracts with the committee account (owner: the service's sender account, whose key
is in the enclave, so the worker may record callback failures with ``markCallbackFailed``; keys: the
enclave's service keys) and funds the sender with GAS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from neo3.api import noderpc

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.network import NetworkFile
from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings, _port_is_free
from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
from neo_service_layer.kernel.chain.adapters.service_keys import ensure_service_keys
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.native_oracle.adapters.node import (
    designate_oracles,
    designated_oracles,
    ensure_native_oracle_key,
)
from neo_service_layer.services.oracle.adapters.oracle_key import ensure_oracle_key

log = get_logger("nsl.chain")

REPO_CONTRACTS = Path(__file__).resolve().parents[5] / "contracts" / "build"


class ContractsNotBuilt(Exception):
    """The compiled contracts are missing: run ``make contracts`` (``python contracts/build.py``)."""


def contracts_dir() -> Path:
    return Path(os.environ.get("NSL_NEO_CONTRACTS_DIR") or REPO_CONTRACTS)


def artifact(name: str) -> tuple[Path, Path]:
    base = contracts_dir()
    nef, manifest = base / f"{name}.nef", base / f"{name}.manifest.json"
    if not nef.exists() or not manifest.exists():
        raise ContractsNotBuilt(f"{nef} is missing: run `make contracts` first")
    return nef, manifest


def chain_dir(settings: Settings) -> Path:
    return settings.data_dir / "chain"


def privnet_for(settings: Settings) -> Privnet:
    """The local node of this data directory; keeps its RPC port across restarts while it stays free."""
    directory = chain_dir(settings)
    port = settings.neo_local_rpc_port
    if not port:
        recorded = Privnet.from_data_dir(directory) if (directory / "privnet.json").exists() else None
        if recorded is not None and recorded._rpc_port and _port_is_free(recorded._rpc_port):
            port = recorded._rpc_port
    return Privnet(
        PrivnetSettings(data_dir=directory, rpc_port=port, block_time=settings.neo_block_time_seconds)
    )


@dataclass(frozen=True, slots=True)
class Provisioned:
    network: NetworkFile
    deployed: bool


async def _contract_exists(rpc_url: str, contract: str) -> bool:
    async with noderpc.NeoRpcClient(rpc_url, timeout=10.0) as client:
        try:
            await client._do_post("getcontractstate", [contract])
        except noderpc.JsonRpcError:
            return False
    return True


async def provision(
    settings: Settings, net: Privnet, enclave: Enclave, store: ChainStore, clock: Clock
) -> Provisioned:
    """Deploy (once) and describe the local chain; write and return ``network.json``.

    Contracts: ``randomness`` (randomness service), ``oracle`` (oracle service) and ``feed`` (price
    feeds), all owned by the service's sender account; the oracle and feed contracts trust the enclave's
    oracle key. A chain provisioned before a contract existed gets just the missing one. The enclave's
    native oracle node key is designated for Neo's Oracle role (replacing any other designation).
    """
    keys = await ensure_service_keys(store, enclave, clock)
    oracle_key = await ensure_oracle_key(store, enclave, clock)
    node_key = await ensure_native_oracle_key(store, enclave, clock)
    public = {
        **keys.public(),
        "oracle": oracle_key.public_key.hex(),
        "native_oracle": node_key.public_key.hex(),
    }
    block_time = settings.neo_block_time_seconds
    if node_key.public_key not in await designated_oracles(net.rpc_url):
        # the enclave's node key answers Neo's native Oracle requests (RoleManagement role 8)
        committee = deploy.committee_invoker(deploy.make_facade(net.rpc_url, block_time), block_time)
        await designate_oracles(committee, [node_key.public_key])
    existing = NetworkFile.read(settings.data_dir)
    later = ("oracle", "native_oracle")  # keys added after the first release: absent from older files
    reuse = (
        existing is not None
        and existing.magic == net.magic
        and {k: v for k, v in existing.service_keys.items() if k not in later} == keys.public()
        and all(existing.service_keys.get(k, public[k]) == public[k] for k in later)
    )
    contracts: dict[str, str] = {}
    if reuse and existing is not None:
        for name, contract in existing.contracts.items():
            if name in CONTRACTS and await _contract_exists(net.rpc_url, contract):
                contracts[name] = contract
    if existing is not None and reuse and set(contracts) == set(CONTRACTS):
        existing.rpc_url, existing.ws_url, existing.block_time = net.rpc_url, net.ws_url, block_time
        existing.service_keys = public
        existing.write(settings.data_dir)
        return Provisioned(existing, deployed=False)

    facade = deploy.make_facade(net.rpc_url, block_time)
    committee = deploy.committee_invoker(facade, block_time)
    owner = keys.sender.script_hash
    data = {
        "randomness": [owner, keys.randomness.ecdsa_public_key, keys.randomness.bls_public_key],
        "oracle": [owner, oracle_key.public_key],
        "feed": [owner, oracle_key.public_key],
    }
    for name, artifact_name in CONTRACTS.items():
        if name not in contracts:
            nef, manifest = artifact(artifact_name)
            contracts[name] = f"0x{await deploy.deploy_contract(committee, nef, manifest, data[name])}"
    if not reuse:
        await deploy.fund(committee, owner, settings.neo_local_sender_gas * deploy.GAS)
    async with noderpc.NeoRpcClient(net.rpc_url, timeout=10.0) as client:
        height = await client.get_block_count() - 1
    if reuse and existing is not None:
        height = existing.deployed_height
    file = NetworkFile(
        rpc_url=net.rpc_url,
        ws_url=net.ws_url,
        magic=net.magic,
        block_time=block_time,
        contracts=contracts,
        service_keys=public,
        sender={"address": keys.sender.address, "script_hash": f"0x{keys.sender.script_hash}"},
        deployed_height=height,
    )
    file.write(settings.data_dir)
    log.info("local chain provisioned", contracts=contracts, height=height)
    return Provisioned(file, deployed=True)


#: network.json name -> compiled artifact
CONTRACTS = {"randomness": "randomness_service", "oracle": "oracle_service", "feed": "price_feed"}
