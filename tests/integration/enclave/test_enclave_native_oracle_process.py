"""The native Oracle node key against a real enclave process with per-client tokens: the worker token
cannot raw-sign with it (nor can the cli's); the worker gets only the response the enclave builds from
what it reads on its own node (``NSL_NEO_RPC_URLS``: here a JSON-RPC fake that records every call); the
api token cannot ask for one."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from enclave_process_fakes import PeerEnclave
from neo3.network.payloads import transaction

from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.native_oracle import (
    ORACLE_CONTRACT,
    NeoResponseCode,
    Outcome,
    request_key,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-native-oracle-01",
    "worker": "worker-token-native-oracle",
    "cli": "cli-token-native-oracle-01",
}
MAGIC = 860833102
GAS = 100_000_000


def _stored_request(url: str) -> bytes:
    """The native contract's serialisation of a request (BinarySerializer: an array of 7 items)."""

    def data(value: bytes) -> bytes:
        return b"\x28" + bytes([len(value)]) + value

    gas = GAS.to_bytes(5, "little", signed=True)
    items = [data(bytes(32)), b"\x21\x05" + gas, data(url.encode()), b"\x00"]
    items += [data(bytes(20)), data(b"onOracleResponse"), data(b"")]
    return b"\x40\x07" + b"".join(items)


@dataclass
class FakeNode:
    """A Neo node's JSON-RPC as the enclave reads it; ``designated`` and ``requests`` are its state."""

    designated: list[bytes] = field(default_factory=list)
    requests: dict[int, bytes] = field(default_factory=dict)
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)

    def answer(self, method: str, params: list[Any]) -> Any:
        self.calls.append((method, params))
        if method == "getversion":
            return {"protocol": {"network": MAGIC, "maxvaliduntilblockincrement": 5760}}
        if method == "getblockcount":
            return 101
        if method == "getstorage":
            key = base64.b64decode(params[1])
            found = self.requests.get(int.from_bytes(key[1:], "big"))
            return None if found is None else base64.b64encode(found).decode()
        if method == "invokefunction" and params[1] == "getDesignatedByRole":
            keys = [{"type": "ByteString", "value": base64.b64encode(k).decode()} for k in self.designated]
            return {"state": "HALT", "stack": [{"type": "Array", "value": keys}]}
        if method == "invokefunction" and params[1] == "getFeePerByte":
            return {"state": "HALT", "stack": [{"type": "Integer", "value": "1000"}]}
        if method == "calculatenetworkfee":
            return {"networkfee": "1230000"}
        raise AssertionError(f"unexpected call {method}")


@pytest.fixture
def node() -> Iterator[tuple[FakeNode, str]]:
    state = FakeNode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls = body if isinstance(body, list) else [body]  # JSON-RPC batches too, as neo-go
            answers = [
                {"jsonrpc": "2.0", "id": c["id"], "result": state.answer(c["method"], c["params"])}
                for c in calls
            ]
            reply = json.dumps(answers if isinstance(body, list) else answers[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def enclave(node: tuple[FakeNode, str]) -> Iterator[PeerEnclave]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-no-"))  # short: Unix socket paths are limited
    extra = {"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": "", "NSL_NEO_RPC_URLS": node[1]}
    process = PeerEnclave(directory, directory / "e.sock", token="", extra=extra)
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


async def _client(enclave: PeerEnclave, name: str) -> AsyncIterator[EnclaveClient]:
    client = EnclaveClient(enclave.socket_path, TOKENS[name], timeout=5)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def worker(enclave: PeerEnclave) -> AsyncIterator[EnclaveClient]:
    async for client in _client(enclave, "worker"):
        yield client


@pytest.fixture
async def cli(enclave: PeerEnclave) -> AsyncIterator[EnclaveClient]:
    async for client in _client(enclave, "cli"):
        yield client


@pytest.fixture
async def node_key(cli: EnclaveClient, node: tuple[FakeNode, str]) -> SealedKey:
    """The node key as ``nsl chain up`` creates it (cli token), designated on the fake node."""
    sealed = await cli.create_key(
        KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NATIVE_ORACLE])
    )
    node[0].designated = [sealed.info.public_key]
    return sealed


async def test_the_worker_cannot_raw_sign_with_the_node_key_and_neither_can_the_cli(
    worker: EnclaveClient, cli: EnclaveClient, node_key: SealedKey
) -> None:
    key_id = node_key.info.key_id
    for client in (worker, cli):
        # the worker's list (no raw signing at all) or, for the cli, the key's typed-only purpose
        with pytest.raises(PolicyDenied):
            await client.sign(
                key_id,
                bytes(32),
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.NATIVE_ORACLE,
                fmt=SignatureFormat.NEO_TX,
                network_magic=MAGIC,
            )
        with pytest.raises(PolicyDenied, match="enclave operation" if client is cli else "may not call"):
            await client.sign_batch(  # the submitoracleresponse message shape: key || id || signature
                key_id,
                [node_key.info.public_key + bytes(8) + bytes(64)],
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.NATIVE_ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )


async def test_the_worker_gets_the_response_the_enclave_built_from_its_own_node(
    worker: EnclaveClient, node_key: SealedKey, node: tuple[FakeNode, str]
) -> None:
    fake = node[0]
    fake.requests[3] = _stored_request("http://127.0.0.1:9/never-fetched")  # not https: no fetch
    (response, gone) = await worker.native_oracle_respond(
        node_key.info.key_id, magic=MAGIC, request_ids=[3, 4], valid_until_blocks=10
    )
    assert gone.outcome is Outcome.GONE
    assert response.outcome is Outcome.SIGNED
    assert (response.code, response.result) == (NeoResponseCode.PROTOCOL_NOT_SUPPORTED, b"")
    tx = transaction.Transaction.deserialize_from_bytes(response.raw)
    (attribute,) = tx.attributes
    assert isinstance(attribute, transaction.OracleResponse)
    assert attribute.id == 3
    assert tx.valid_until_block == 100 + 1 + 10
    assert tx.network_fee + tx.system_fee == GAS
    signature = tx.witnesses[1].invocation_script[2:]
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), node_key.info.public_key)
    public.verify(
        encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:])),
        MAGIC.to_bytes(4, "little") + tx.hash().to_array(),
        ec.ECDSA(hashes.SHA256()),
    )
    key = base64.b64encode(request_key(3)).decode()
    assert ("getstorage", [ORACLE_CONTRACT, key]) in fake.calls  # read by the enclave itself


async def test_the_api_cannot_ask_for_a_native_oracle_response(
    enclave: PeerEnclave, node_key: SealedKey, node: tuple[FakeNode, str]
) -> None:
    async for api in _client(enclave, "api"):
        with pytest.raises(OperationNotAllowed):
            await api.native_oracle_respond(
                node_key.info.key_id, magic=MAGIC, request_ids=[1], valid_until_blocks=10
            )
    assert node[0].calls == []  # refused before anything was read
