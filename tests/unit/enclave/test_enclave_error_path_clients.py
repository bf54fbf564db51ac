"""An unexpected error in an operation (the enclave's ``internal`` answer, whose log line now names the
operation and where it was raised) opens no door: on the same connection the API's and the worker's
tokens are still refused every signature, unseal and export they are refused without it, and the
answer carries nothing of the error.

Over the real server and Unix socket, with per-client tokens (``NSL_ENCLAVE_CLIENTS``) and the real
operation lists; the host triggers the error itself (``random`` with ``n`` = 13, a test hook).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.enclave.handlers import EnclaveOperations, Result
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.server import EnclaveServer
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.enclave.wire.protocol import Args

TOKENS = {"api": "api-token-0123456789", "worker": "worker-token-0123456"}
SECRET_IN_ERROR = "host-chosen-9f8e7d6c5b4a"
TENANT = "tenant-a"


class _Operations(EnclaveOperations):
    """The real operations; ``random`` with ``n`` = 13 fails as a bug would."""

    def dispatch(self, op: str, args: Args) -> Result | Awaitable[Result]:
        if op == "random" and args.opt_integer("n") == 13:
            raise KeyError(SECRET_IN_ERROR)
        return super().dispatch(op, args)


@pytest.fixture
async def socket_path(tmp_path: Path, sealer: Sealer, keystore: KeyStore) -> AsyncIterator[Path]:
    credentials = {name: token.encode() for name, token in TOKENS.items()}
    server = EnclaveServer(
        _Operations(SimulationPlatform(tmp_path), sealer, keystore), credentials, tmp_path / "e.sock"
    )
    await server.start()
    try:
        yield server.socket_path
    finally:
        await server.close()


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str) -> None:
        self._reader, self._writer, self._token, self._id = reader, writer, token, 0

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        self._id += 1
        body = json.dumps({"v": 1, "id": self._id, "token": self._token, "op": op, "args": args}).encode()
        self._writer.write(struct.pack(">I", len(body)) + body)
        async with asyncio.timeout(5):
            header = await self._reader.readexactly(4)
            answer: dict[str, Any] = json.loads(
                await self._reader.readexactly(struct.unpack(">I", header)[0])
            )
        assert answer["id"] == self._id
        return answer


def _sign(tenant: str, purpose: str = "message") -> dict[str, Any]:
    return {
        "key_id": "k_1",
        "tenant": tenant,
        "purpose": purpose,
        "format": "ecdsa-sha256",
        "message": "aGk=",
    }


#: what each host token must never get, whatever happened before on its connection
REFUSED: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "api": [
        ("sign", _sign(PLATFORM_KEY_OWNER)),  # a platform key signing a message the host chose
        ("sign_batch", {**_sign(PLATFORM_KEY_OWNER), "messages": ["aGk="]}),
        ("sign_transaction", {"key_id": "k_1", "tx": "AA=="}),
        ("unseal", {"tenant": TENANT, "label": "secret:db", "blob": "AA=="}),  # a secret value
        ("migration_export", {"key_id": "k_1", "record": "AA=="}),
        ("feed_round", {"key_id": "k_1"}),
    ],
    "worker": [
        ("sign", _sign(TENANT)),  # no raw signing at all
        ("sign", _sign(PLATFORM_KEY_OWNER)),
        ("sign_batch", {**_sign(TENANT), "messages": ["aGk="]}),
        ("unseal", {"tenant": TENANT, "label": "secret:db", "blob": "AA=="}),
        ("migration_export", {"key_id": "k_1", "record": "AA=="}),
        ("create_key", {"kind": "secp256r1", "policy": {"tenant": TENANT, "purposes": ["message"]}}),
    ],
}


@pytest.mark.parametrize("client", sorted(TOKENS))
async def test_an_unexpected_error_leaves_every_refusal_in_place(
    socket_path: Path, client: str, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    connection = _Connection(reader, writer, TOKENS[client])
    try:
        failed = await connection.call("random", n=13)
        assert failed["ok"] is False
        assert failed["error"] == {"code": "internal", "message": "internal enclave error"}
        assert SECRET_IN_ERROR not in json.dumps(failed)
        assert SECRET_IN_ERROR not in caplog.text
        for op, args in REFUSED[client]:
            answer = await connection.call(op, **args)
            assert answer["ok"] is False, (client, op)
            assert answer["error"]["code"] == "operation_not_allowed", (client, op, answer)
        assert (await connection.call("random", n=4))["ok"] is True  # still this client, still served
    finally:
        writer.close()
