"""The local Neo X chain of ``nsl chain node`` / ``nsl run``: anvil started on a free port, the services'
Solidity contracts deployed against the enclave's EVM key, ``network.json`` extended."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pytest
from eth_abi.abi import decode
from eth_utils.crypto import keccak
from web3 import AsyncWeb3

from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction
from neo_service_layer.kernel.chain.adapters.evm_artifacts import load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_local import (
    LOCAL_CHAIN_ID,
    LOCAL_SENDER_FUNDS,
    LocalAnvil,
    provision_evm,
)
from neo_service_layer.kernel.chain.adapters.evm_sender_key import EVM_SENDER_ROLE
from neo_service_layer.kernel.chain.adapters.network import NetworkFile
from neo_service_layer.kernel.chain.cli import READY_MARKER
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.randomness.adapters.keys import EVM_ROLE, evm_address
from neo_service_layer.services.randomness.service import SERVICE as RANDOMNESS
from tests.e2e.evm.conftest import TOKENS
from tests.integration.enclave.enclave_process_fakes import PeerEnclave


class RoleKeys:
    """The ``service_keys`` table in memory (role -> key id, kind, public key)."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, str, bytes]] = {}

    async def service_key(self, role: str) -> tuple[str, str, bytes] | None:
        return self.keys.get(role)

    async def service_keys(self) -> Mapping[str, tuple[str, str, bytes]]:
        return dict(self.keys)

    async def put_service_key(
        self, role: str, key_id: str, kind: str, public_key: bytes, sealed: bytes, version: int, now: datetime
    ) -> bool:
        if role in self.keys:
            return False
        self.keys[role] = (key_id, kind, public_key)
        return True


def _n3_file(directory: Path) -> None:
    NetworkFile("http://127.0.0.1:1", 42, 1.0, {}, {}, {}, 0).write(directory)


async def _signer_of(url: str, address: str) -> str:
    chain = EvmChain([url], LOCAL_CHAIN_ID)
    try:
        service = chain.contract(address, load_artifact("RandomnessService").abi)
        encoded = service.encode_abi("signer", args=[])
        (signer,) = decode(["address"], await chain.read({"to": address, "data": encoded}))
        return str(AsyncWeb3.to_checksum_address(signer))
    finally:
        await chain.close()


async def test_provisioning_deploys_against_the_enclaves_key_and_records_it(
    enclave: PeerEnclave, evm_contracts_built: None, tmp_path: Path
) -> None:
    client = EnclaveClient(enclave.socket_path, TOKENS["cli"], timeout=10)
    worker = EnclaveClient(enclave.socket_path, TOKENS["worker"], timeout=10)
    store = RoleKeys()
    _n3_file(tmp_path)
    hooks = [RANDOMNESS.chain]
    try:
        addresses, senders = [], []
        for _ in range(2):  # a restart: a fresh anvil, the same key
            anvil = LocalAnvil(tmp_path / "neox")
            await anvil.start()
            try:
                neox = await provision_evm(
                    tmp_path, anvil.url, anvil.chain_id, store, client, SystemClock(), hooks
                )
                assert neox == NetworkFile.read(tmp_path).neox  # type: ignore[union-attr]
                assert neox["chain_id"] == LOCAL_CHAIN_ID
                assert neox["rpc_url"] == anvil.url
                signer = evm_address(store.keys[EVM_ROLE][2])
                assert neox["signers"] == {"randomness": signer}
                assert await _signer_of(anvil.url, neox["contracts"]["randomness"]) == signer
                addresses.append(neox["contracts"]["randomness"])
                senders.append(neox["sender"])  # funded to pay gas at every start
                chain = EvmChain([anvil.url], anvil.chain_id)
                try:
                    assert await chain.balance(neox["sender"]) == LOCAL_SENDER_FUNDS
                finally:
                    await chain.close()
            finally:
                await anvil.stop()
            assert not anvil.is_running()
        assert addresses[0] == addresses[1]
        assert set(store.keys) >= {EVM_ROLE, "randomness-bls"}
        # the contract is registered with the enclave: the EVM sender key (a role key) signs its fulfil
        sender_key_id = store.keys[EVM_SENDER_ROLE][0]
        fulfill = keccak(text="fulfill(uint256,bytes32,bytes)")[:4] + bytes(96)
        contract = bytes.fromhex(addresses[0][2:])
        tx = Eip1559Transaction(LOCAL_CHAIN_ID, 0, contract, fulfill, 300_000, 10**9, 1)
        signed = await worker.evm_sign_transaction(sender_key_id, tx)
        assert "0x" + signed.sender.hex() == senders[0].lower() == senders[1].lower()
    finally:
        await client.close()
        await worker.close()


@pytest.mark.chain
@pytest.mark.slow
async def test_nsl_chain_node_runs_a_local_neo_x_beside_the_n3_chain(evm_contracts_built: None) -> None:
    directory = Path(tempfile.mkdtemp(prefix="nsl-neox-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    env.update(NSL_DATA_DIR=str(directory), NSL_ENV="test", NSL_NEO_BLOCK_TIME_SECONDS="0.2")
    with (directory / "node.log").open("ab") as log:
        node = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "chain", "node"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while not (directory / READY_MARKER).exists():
            assert node.poll() is None, (directory / "node.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "chain node not ready"
            await asyncio.sleep(0.2)
        neox = json.loads((directory / "network.json").read_text())["neox"]
        assert neox["chain_id"] == LOCAL_CHAIN_ID
        signer = await _signer_of(neox["rpc_url"], neox["contracts"]["randomness"])
        assert signer == neox["signers"]["randomness"]
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=60) == 0
        with pytest.raises(ConnectionRefusedError):  # anvil stopped with the node
            await asyncio.open_connection("127.0.0.1", int(neox["rpc_url"].rsplit(":", 1)[1]))
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
