"""The embedded local chain: a neo-go privnet under ``<data_dir>/chain`` with the service contracts deployed.

``provision`` is idempotent: on a chain that already has the service contracts recorded in
``network.json`` (same magic and keys, contracts still there) it only refreshes the RPC URL; otherwise it
deploys the missing contracts with the committee account (owner: ``NSL_NEO_CONTRACT_OWNER`` or the
development ``contract-owner`` key, which only the ``cli`` client signs with; operator: the services'
sender, so the worker may record callback failures with ``markCallbackFailed`` and nothing more; keys:
what each service's ``prepare`` hook published) and funds the sender with GAS. Which contracts exist is said
by the services' descriptors, not here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from neo3.api import noderpc
from neo3.core import types
from neo3.wallet import utils as wallet_utils

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.network import NetworkFile
from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings, port_is_free
from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks, ProvisionContext
from neo_service_layer.kernel.chain.adapters.service_keys import ensure_owner, ensure_sender
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.observability.logs import get_logger

log = get_logger("nsl.chain")

#: GAS given to the development owner key (administration transactions only)
DEV_OWNER_GAS = 1000
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
        if recorded is not None and recorded._rpc_port and port_is_free(recorded._rpc_port):
            port = recorded._rpc_port
    return Privnet(
        PrivnetSettings(data_dir=directory, rpc_port=port, block_time=settings.neo_block_time_seconds)
    )


async def contract_owner(
    settings: Settings, store: RoleKeyStore, enclave: Enclave, clock: Clock
) -> types.UInt160:
    """The owner the contracts are deployed with: ``NSL_NEO_CONTRACT_OWNER`` (an address: a committee or
    multisig account that signs elsewhere), else the development ``contract-owner`` key. Never the sender."""
    if settings.neo_contract_owner:
        try:
            owner: types.UInt160 = wallet_utils.address_to_script_hash(settings.neo_contract_owner)
        except ValueError as exc:
            raise ValueError("NSL_NEO_CONTRACT_OWNER is not a Neo N3 address") from exc
        return owner
    return (await ensure_owner(store, enclave, clock)).script_hash


@dataclass(frozen=True, slots=True)
class Provisioned:
    network: NetworkFile
    deployed: bool
    new_contracts: tuple[str, ...] = ()


async def _contract_exists(rpc_url: str, contract: str) -> bool:
    async with noderpc.NeoRpcClient(rpc_url, timeout=10.0) as client:
        try:
            await client._do_post("getcontractstate", [contract])
        except noderpc.JsonRpcError:
            return False
    return True


async def provision(
    settings: Settings,
    net: Privnet,
    enclave: Enclave,
    store: RoleKeyStore,
    clock: Clock,
    hooks: Sequence[ChainHooks],
    progress: Callable[[int, int | None], None] | None = None,
) -> Provisioned:
    """Deploy (once) and describe the local chain; write and return ``network.json``. ``progress`` is
    told the contracts deployed so far out of those missing.

    The kernel makes the transaction sender (operator of every service contract, so the worker may
    record callback failures) and the owner (``contract_owner``); each service's ``prepare`` hook
    creates its keys and publishes their public keys, then its contracts are deployed with the
    ``_deploy`` data it gives. A chain provisioned before a contract existed gets just the missing one;
    a file whose magic or keys changed is rebuilt. The contracts are registered with the enclave
    (``allow_contracts``, every time: the enclave's state may be newer than the chain's), so the sender
    key signs calls to them and to nothing else.
    """
    sender = await ensure_sender(store, enclave, clock)
    owner = await contract_owner(settings, store, enclave, clock)
    block_time = settings.neo_block_time_seconds
    context = ProvisionContext(
        settings, net.rpc_url, block_time, store, enclave, clock, owner=owner,
        operator=sender.script_hash, public_keys={"sender": sender.public_key.hex()},
    )  # fmt: skip
    for hook in hooks:
        if hook.prepare is not None:
            context.public_keys.update(await hook.prepare(context))
    wanted = {spec.name: spec for hook in hooks for spec in hook.contracts}
    existing = NetworkFile.read(settings.data_dir)
    # keys published by a newer release are absent from older files; any other difference means a new chain
    reuse = (
        existing is not None
        and existing.magic == net.magic
        and all(context.public_keys.get(k) == v for k, v in existing.service_keys.items())
    )
    contracts: dict[str, str] = {}
    if reuse and existing is not None:
        for name, contract in existing.contracts.items():
            if name in wanted and await _contract_exists(net.rpc_url, contract):
                contracts[name] = contract
    if existing is not None and reuse and set(contracts) == set(wanted):
        existing.rpc_url, existing.ws_url, existing.block_time = net.rpc_url, net.ws_url, block_time
        existing.service_keys = dict(context.public_keys)
        existing.write(settings.data_dir)
        await enclave.allow_contracts(net.magic, contracts)
        return Provisioned(existing, deployed=False)

    committee = deploy.committee_invoker(deploy.make_facade(net.rpc_url, block_time), block_time)
    missing = [name for name in wanted if name not in contracts]
    for done, name in enumerate(missing):
        if progress is not None:
            progress(done, len(missing))
        nef, manifest = artifact(wanted[name].artifact)
        data = list(wanted[name].deploy_args(context))
        contracts[name] = f"0x{await deploy.deploy_contract(committee, nef, manifest, data)}"
    if progress is not None:
        progress(len(missing), len(missing))
    if not reuse:
        await deploy.fund(committee, sender.script_hash, settings.neo_local_sender_gas * deploy.GAS)
        if not settings.neo_contract_owner:  # the development owner key pays its own transactions
            await deploy.fund(committee, owner, DEV_OWNER_GAS * deploy.GAS)
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
        service_keys=dict(context.public_keys),
        sender={"address": sender.address, "script_hash": f"0x{sender.script_hash}"},
        deployed_height=height,
    )
    file.write(settings.data_dir)
    await enclave.allow_contracts(net.magic, contracts)
    log.info("local chain provisioned", contracts=contracts, height=height)
    return Provisioned(file, deployed=True, new_contracts=tuple(missing))
