"""The local Neo X chain of ``nsl chain node`` (so of ``nsl run``): anvil on a loopback port (the previous
one while it is free), with the services' Solidity contracts deployed and ``network.json`` extended
(``neox``).

anvil comes from the npm package ``@foundry-rs/anvil`` that ``make venv`` installs into ``.tools``; the
Solidity contracts from ``make contracts`` (``contracts/build/evm``). anvil keeps its chain in
``<data_dir>/chain/neox/state.json`` (written every second and on exit, loaded at start), so a restarted
node goes on with the same chain and contracts; a node killed outright loses at most its last second
(the watchers read such blocks again, the outbox relays send again what they lost). The deployer and
owner is anvil's first development account, whose key is anvil's published default (mnemonic ``test
test ... junk``): it is usable on no real network. The contracts trust the enclave keys the services'
``evm_prepare`` hooks create.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.signers.local import LocalAccount

from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_sender_key import ensure_evm_sender
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner, evm_address_of
from neo_service_layer.kernel.chain.adapters.network import NetworkFile
from neo_service_layer.kernel.chain.adapters.privnet import port_is_free
from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.observability.logs import get_logger

log = get_logger("nsl.chain")

TOOLS = Path(__file__).resolve().parents[5] / ".tools" / "node_modules" / "@foundry-rs"
#: the chain id of the local Neo X chain (anvil's default, known to wallets as a local chain)
LOCAL_CHAIN_ID = 31337
#: anvil's first development key (published; funded only on a local anvil)
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#: what the enclave's EVM sender holds after each start of the local chain, to pay gas (wei)
LOCAL_SENDER_FUNDS = 100 * 10**18


class AnvilMissing(Exception):
    """anvil is not installed: run ``make venv`` (npm ``@foundry-rs/anvil`` into ``.tools``)."""


def anvil_binary() -> Path:
    found = sorted(TOOLS.glob("anvil-*/bin/anvil"))
    if not found:
        raise AnvilMissing(f"anvil is not installed under {TOOLS}: run `make venv`")
    return found[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalAnvil:
    """One anvil process on ``127.0.0.1``, its output in ``directory/anvil.log``."""

    def __init__(self, directory: Path, chain_id: int = LOCAL_CHAIN_ID, port: int | None = None) -> None:
        self.directory = directory
        self.chain_id = chain_id
        self.port = port if port is not None and port_is_free(port) else _free_port()
        self._process: asyncio.subprocess.Process | None = None

    @property
    def state_file(self) -> Path:
        """Where anvil keeps its chain (blocks, receipts, state): loaded at start, written every second
        and on exit, so a restarted node goes on with the same chain."""
        return self.directory / "state.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, timeout: float = 15.0) -> None:
        binary = anvil_binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "anvil.log").open("ab") as out:
            self._process = await asyncio.create_subprocess_exec(
                str(binary), "--host", "127.0.0.1", "--port", str(self.port),
                "--chain-id", str(self.chain_id), "--state", str(self.state_file), "--state-interval", "1",
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self.is_running():
                raise RuntimeError(f"anvil exited (see {self.directory / 'anvil.log'})")
            if await self._answers():
                return
            await asyncio.sleep(0.05)
        await self.stop()
        raise RuntimeError("anvil did not answer in time")

    async def _answers(self) -> bool:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session,
                session.post(self.url, json=body) as response,
            ):
                return int(json.loads(await response.text())["result"], 16) == self.chain_id
        except (OSError, aiohttp.ClientError, TimeoutError, ValueError, KeyError):
            return False

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def register_evm_contracts(
    enclave: Enclave, chain_id: int, contracts: Mapping[str, str]
) -> dict[str, str]:
    """Register the deployed service contracts ``{service: address}`` with the enclave for ``chain_id``
    (``allow_evm_contracts``, the ``cli`` client): the EVM sender key signs calls to them and to
    nothing else. Every time the contracts are deployed (the enclave's state outlives anvil's chain).
    Returns every contract registered for ``chain_id``."""
    return await enclave.allow_evm_contracts(chain_id, contracts)


async def provision_evm(
    data_dir: Path,
    rpc_url: str,
    chain_id: int,
    store: RoleKeyStore,
    enclave: Enclave,
    clock: Clock,
    hooks: Sequence[ChainHooks],
    owner: LocalAccount | None = None,
) -> dict[str, Any]:
    """Create the services' EVM keys and the EVM sender key (once), deploy the contracts (those recorded in
    ``network.json`` for the same chain and signers are kept while they have code: anvil's chain outlives
    a restart), fund the sender (``LOCAL_SENDER_FUNDS``), register the contracts with the enclave
    (``register_evm_contracts``), record them in ``network.json``.

    ``network.json`` must exist (the N3 chain is provisioned first); its ``neox`` entry is replaced.
    Returns that entry.
    """
    owner = owner if owner is not None else Account.from_key(ANVIL_DEV_KEY)
    deployer = LocalEvmSigner(owner)
    sender = evm_address_of((await ensure_evm_sender(store, enclave, clock)).public_key)
    signers: dict[str, str] = {}
    for hook in hooks:
        if hook.evm_prepare is not None:
            signers.update(await hook.evm_prepare(store, enclave, clock))
    chain = EvmChain([rpc_url], chain_id)
    file = NetworkFile.read(data_dir)
    if file is None:
        raise RuntimeError("network.json is missing: the Neo N3 chain is provisioned first")
    earlier = (
        file.neox if file.neox.get("chain_id") == chain_id and file.neox.get("signers") == signers else {}
    )
    contracts: dict[str, str] = {}
    try:
        for hook in hooks:
            for spec in hook.evm_contracts:
                deployed = (earlier.get("contracts") or {}).get(spec.name)
                if deployed and await chain.code(deployed):  # a restarted node: the same chain goes on
                    contracts[spec.name] = deployed
                    continue
                artifact = load_artifact(spec.artifact)
                contracts[spec.name] = await deploy(chain, deployer, artifact, *spec.deploy_args(signers))
        # after the deployments, so the contracts' addresses stay those of the deployer's first nonces
        if await chain.balance(sender) < LOCAL_SENDER_FUNDS:
            await chain.send(deployer, sender, b"", value=LOCAL_SENDER_FUNDS)
        height = (
            int(earlier["deployed_height"])
            if contracts == earlier.get("contracts")
            else await chain.block_number()
        )
    finally:
        await chain.close()
    if contracts:
        await register_evm_contracts(enclave, chain_id, contracts)
    neox: dict[str, Any] = {
        "chain_id": chain_id,
        "rpc_url": rpc_url,
        "contracts": contracts,
        "signers": signers,
        "owner": owner.address,
        "sender": sender,
        "deployed_height": height,
    }
    file.neox = neox
    file.write(data_dir)
    log.info("local Neo X provisioned", contracts=contracts, rpc_url=rpc_url)
    return neox
