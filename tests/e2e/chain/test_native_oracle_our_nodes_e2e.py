"""Several of our nodes designated for the Oracle role and no other oracle node (neo-go's own oracle
service is off): each node's worker hands its signatures to the other nodes' JSON-RPC endpoints
(``NSL_NEO_ORACLE_PEERS`` = their ``/api/v1/native-oracle/rpc``), each node gathers the others'
signatures, and every request is answered on chain by a transaction carrying ``m = n - (n - 1) / 3``
of them: 2 of 2; 3 of 4, still answering after one node is SIGKILLed.

Each further node is a whole node of its own on the same chain: its own enclave process (its own node
key), its own database (SQLite), API and worker; it shares only the chain and the first node's
``network.json`` (contracts)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.network import NetworkFile
from neo_service_layer.kernel.chain.adapters.privnet import find_free_port
from neo_service_layer.kernel.chain.adapters.role_key_store import SqlRoleKeyStore
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.sealed_records import sealed_record_loader
from neo_service_layer.services.native_oracle.adapters.node import (
    designate_oracles,
    designated_oracles,
    ensure_native_oracle_key,
)
from tests.e2e.chain.stack import Stack, call, close_stack, open_stack, wait_for
from tests.e2e.chain.test_native_oracle_e2e import oracle_transactions
from tests.e2e.chain.test_native_oracle_peers_e2e import start_api
from tests.e2e.chain.tls_support import LoopbackCertificates, https_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@dataclass
class SecondNode:
    """Another of our nodes on the stack's chain (processes kept in ``stack.workers`` to be stopped)."""

    directory: Path
    env: dict[str, str]
    public_key: bytes
    enclave: subprocess.Popen[bytes]


async def open_second_node(stack: Stack) -> SecondNode:
    directory = Path(tempfile.mkdtemp(prefix="nsl-n2-"))
    env = {
        **stack.env,
        "NSL_DATA_DIR": str(directory),
        "NSL_ENCLAVE_SOCKET": str(directory / "e.sock"),
    }
    env.pop("NSL_DATABASE_URL", None)  # its own database (SQLite in its directory)
    values: dict[str, Any] = {
        k[4:].lower(): v for k, v in env.items() if k.startswith("NSL_") and not k.startswith("NSL_TEST_")
    }
    settings = Settings(**values)
    with (directory / "enclave.log").open("ab") as log:
        enclave = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "enclave"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack.workers.append(enclave)
    deadline = time.monotonic() + 60
    while not (directory / "e.sock").exists():
        assert enclave.poll() is None, (directory / "enclave.log").read_text()
        assert time.monotonic() < deadline, "the second enclave did not start listening"
        await asyncio.sleep(0.05)
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
        client = EnclaveClient.from_settings(settings, loader=sealed_record_loader(engine))
        try:  # only the node key: the chain and its contracts are the first node's
            key = await ensure_native_oracle_key(SqlRoleKeyStore(engine), client, SystemClock())
        finally:
            await client.close()
    finally:
        await engine.dispose()
    network = NetworkFile.read(stack.directory)
    assert network is not None
    network.service_keys = {**network.service_keys, "native_oracle": key.public_key.hex()}
    network.write(directory)
    return SecondNode(directory, env, key.public_key, enclave)


def start_worker(env: dict[str, str], directory: Path, peer: str) -> subprocess.Popen[bytes]:
    with (directory / "worker-peer.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "worker"],
            env={**env, "NSL_NEO_ORACLE_PEERS": peer},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def signers_of(tx: Any, magic: int, keys: Sequence[bytes]) -> set[bytes]:
    """The designated keys whose signatures of ``tx`` its multisig witness carries."""
    public = {k: ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), k) for k in keys}
    invocation = tx.witnesses[1].invocation_script
    signatures = [invocation[i + 2 : i + 66] for i in range(0, len(invocation), 66)]
    assert len(signatures) * 66 == len(invocation)
    message = magic.to_bytes(4, "little") + tx.hash().to_array()
    found = set()
    for signature in signatures:
        der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
        for key, verifier in public.items():
            try:
                verifier.verify(der, message, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            found.add(key)
    return found


def view(stack: Stack, node: SecondNode) -> Stack:
    """``stack`` as seen from another node (its directory and environment; processes kept together)."""
    return Stack(
        node.directory, stack.settings, node.env, stack.net, stack.enclave, stack.network,
        stack.engine, stack.committee, stack.workers,
    )  # fmt: skip


async def test_two_of_our_nodes_designated_answer_every_request_with_both_signatures(
    contracts_built: None, certificates: LoopbackCertificates
) -> None:
    stack = await open_stack(oracle_allow_hosts="127.0.0.1", oracle_ca_file=str(certificates.ca_file))
    second: SecondNode | None = None
    try:
        with https_server(certificates) as web:
            second = await open_second_node(stack)
            first_key = bytes.fromhex(stack.network.service_keys["native_oracle"])
            await designate_oracles(stack.committee, [first_key, second.public_key])
            assert set(await designated_oracles(stack.net.rpc_url)) == {first_key, second.public_key}
            web.routes["/ticker"] = {"price": 42.17}
            nef, manifest = artifact("native_oracle_consumer")
            consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
            first_block = stack.network.deployed_height
            ports = find_free_port(), find_free_port()
            rpc = [f"http://127.0.0.1:{port}/api/v1/native-oracle/rpc" for port in ports]
            await start_api(stack, ports[0])
            await start_api(view(stack, second), ports[1])
            stack.start_worker(NSL_NEO_ORACLE_PEERS=rpc[1])
            stack.workers.append(start_worker(second.env, second.directory, rpc[0]))
            await stack.committee.invoke(
                call(consumer, "requestMany", web.url("/ticker"), "$.price", 0, 3, deploy.GAS)
            )

            async def all_answered() -> bool:
                return bool((await stack.read(consumer, "answers")).as_int() == 3)

            await wait_for(all_answered, 90, "three callbacks through two of our nodes")
            assert (await stack.read(consumer, "lastResult")).value == b"[42.17]"
            responses = await oracle_transactions(stack, first_block)
            assert sorted(responses) == [0, 1, 2]
            for tx in responses.values():
                assert signers_of(tx, stack.net.magic, [first_key, second.public_key]) == {
                    first_key,
                    second.public_key,
                }
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)
        if second is not None:
            shutil.rmtree(second.directory, ignore_errors=True)


async def test_four_of_our_nodes_answer_with_three_signatures_and_go_on_when_one_is_killed(
    contracts_built: None, certificates: LoopbackCertificates
) -> None:
    """3 of 4 (``m = 4 - 3 // 3``; with three nodes it would be 3 of 3 and no node could be lost). Every
    worker hands its signatures to the three other APIs. Answers carry three signatures; after one
    node's enclave, API and worker are SIGKILLed, new requests are still answered, by the other three."""
    stack = await open_stack(oracle_allow_hosts="127.0.0.1", oracle_ca_file=str(certificates.ca_file))
    others: list[SecondNode] = []
    try:
        with https_server(certificates) as web:
            others = [await open_second_node(stack) for _ in range(3)]
            first_key = bytes.fromhex(stack.network.service_keys["native_oracle"])
            keys = [first_key, *(o.public_key for o in others)]
            await designate_oracles(stack.committee, keys)
            web.routes["/ticker"] = {"price": 7}
            nef, manifest = artifact("native_oracle_consumer")
            consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
            first_block = stack.network.deployed_height
            ports = [find_free_port() for _ in range(4)]
            rpc = [f"http://127.0.0.1:{port}/api/v1/native-oracle/rpc" for port in ports]
            await start_api(stack, ports[0])
            apis = [await start_api(view(stack, o), port) for o, port in zip(others, ports[1:], strict=True)]
            stack.start_worker(NSL_NEO_ORACLE_PEERS=",".join(rpc[1:]))
            workers = []
            for index, node in enumerate(others, start=1):
                peers = ",".join(url for i, url in enumerate(rpc) if i != index)
                workers.append(start_worker(node.env, node.directory, peers))
            stack.workers.extend(workers)

            async def answered(count: int) -> None:
                async def done() -> bool:
                    return bool((await stack.read(consumer, "answers")).as_int() >= count)

                await wait_for(done, 120, f"{count} callbacks through our oracle nodes")

            await stack.committee.invoke(
                call(consumer, "requestMany", web.url("/ticker"), "$.price", 0, 2, deploy.GAS)
            )
            await answered(2)
            killed = others[-1]
            for process in (workers[-1], apis[-1], killed.enclave):
                process.kill()  # SIGKILL: no clean-up
                process.wait(timeout=10)
            await stack.committee.invoke(
                call(consumer, "requestMany", web.url("/ticker"), "$.price", 100, 2, deploy.GAS)
            )
            await answered(4)
            responses = await oracle_transactions(stack, first_block)
            assert sorted(responses) == [0, 1, 2, 3]
            for request_id, tx in responses.items():
                signers = signers_of(tx, stack.net.magic, keys)
                assert len(signers) == 3, request_id
                if request_id >= 2:
                    assert killed.public_key not in signers
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)
        for node in others:
            shutil.rmtree(node.directory, ignore_errors=True)
