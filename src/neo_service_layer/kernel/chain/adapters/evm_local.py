"""The local Neo X chain of ``nsl chain node`` (so of ``nsl run``): anvil on a free loopback port, with the
services' Solidity contracts deployed and ``network.json`` extended (``neox``).

anvil comes from the npm package ``@foundry-rs/anvil`` that ``make venv`` installs into ``.tools``; the
Solidity contracts from ``make contracts`` (``contracts/build/evm``). The chain lives in anvil's memory:
each start is a fresh chain and the contracts are deployed again (the same deployer and nonces give the
same addresses). The deployer and owner is anvil's first development account, whose key is anvil's
published default (mnemonic ``test test ... junk``): it is usable on no real network. The contracts
trust the enclave keys the services' ``evm_prepare`` hooks create.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.signers.local import LocalAccount

from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.network import NetworkFile
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

    def __init__(self, directory: Path, chain_id: int = LOCAL_CHAIN_ID) -> None:
        self.directory = directory
        self.chain_id = chain_id
        self.port = _free_port()
        self._process: asyncio.subprocess.Process | None = None

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
                "--chain-id", str(self.chain_id),
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
    """Create the services' EVM keys (once), deploy their contracts, record them in ``network.json``.

    ``network.json`` must exist (the N3 chain is provisioned first); its ``neox`` entry is replaced.
    Returns that entry.
    """
    owner = owner if owner is not None else Account.from_key(ANVIL_DEV_KEY)
    signers: dict[str, str] = {}
    for hook in hooks:
        if hook.evm_prepare is not None:
            signers.update(await hook.evm_prepare(store, enclave, clock))
    chain = EvmChain([rpc_url], chain_id)
    contracts: dict[str, str] = {}
    try:
        for hook in hooks:
            for spec in hook.evm_contracts:
                artifact = load_artifact(spec.artifact)
                contracts[spec.name] = await deploy(chain, owner, artifact, *spec.deploy_args(signers))
        height = await chain.block_number()
    finally:
        await chain.close()
    neox: dict[str, Any] = {
        "chain_id": chain_id,
        "rpc_url": rpc_url,
        "contracts": contracts,
        "signers": signers,
        "owner": owner.address,
        "deployed_height": height,
    }
    file = NetworkFile.read(data_dir)
    if file is None:
        raise RuntimeError("network.json is missing: the Neo N3 chain is provisioned first")
    file.neox = neox
    file.write(data_dir)
    log.info("local Neo X provisioned", contracts=contracts, rpc_url=rpc_url)
    return neox
