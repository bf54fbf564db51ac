"""Frame reading and request validation: every bad input becomes a typed protocol error."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import pytest
from pydantic import SecretStr

from neo_service_layer.enclave.main import EnclaveStartupError, build_server
from neo_service_layer.enclave.settings import EnclaveSettings, Environment, TeePlatform
from neo_service_layer.enclave.wire.protocol import (
    MAX_FRAME,
    BadJson,
    BadRequest,
    FrameTooLarge,
    IncompleteFrame,
    Unauthorized,
    UnsupportedVersion,
    decode_request,
    encode_frame,
    read_frame,
)

TOKEN = b"s3cret-token"


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_frames_roundtrip_and_clean_eof() -> None:
    reader = _reader(encode_frame({"a": 1}) + encode_frame({"b": 2}))
    assert json.loads(await read_frame(reader) or b"") == {"a": 1}
    assert json.loads(await read_frame(reader) or b"") == {"b": 2}
    assert await read_frame(reader) is None


async def test_oversized_length_is_refused_unread() -> None:
    with pytest.raises(FrameTooLarge):
        await read_frame(_reader(struct.pack(">I", MAX_FRAME + 1)))


@pytest.mark.parametrize("data", [b"\x00\x00", struct.pack(">I", 10) + b"abc"])
async def test_truncated_frames(data: bytes) -> None:
    with pytest.raises(IncompleteFrame):
        await read_frame(_reader(data))


def _body(**fields: object) -> bytes:
    message: dict[str, object] = {"v": 1, "id": 7, "token": TOKEN.decode(), "op": "status", "args": {}}
    message.update(fields)
    return json.dumps({k: v for k, v in message.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", BadJson),
        (b"\xff\xfe", BadJson),
        (b"[1, 2]", BadJson),
        (b"[" * 100000, BadJson),
        (_body(v=2), UnsupportedVersion),
        (_body(v=...), UnsupportedVersion),
        (_body(token="wrong"), Unauthorized),
        (_body(token=...), Unauthorized),
        (_body(token=123), Unauthorized),
        (_body(op=5), BadRequest),
        (_body(args=[1]), BadRequest),
    ],
)
def test_bad_requests(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_request(body, TOKEN)


def test_args_are_typed() -> None:
    request = decode_request(_body(args={"n": "5", "m": True, "b": "!!", "l": ["QQ==", 3]}), TOKEN)
    assert request.id == 7
    assert request.op == "status"
    for call in (
        lambda: request.args.integer("n"),
        lambda: request.args.integer("m"),
        lambda: request.args.integer("missing"),
        lambda: request.args.blob("b"),
        lambda: request.args.blob_list("l"),
        lambda: request.args.text("m"),
    ):
        with pytest.raises(BadRequest):
            call()
    assert request.args.opt_integer("missing") is None


def _settings(tmp_path: Path, **overrides: object) -> EnclaveSettings:
    values: dict[str, object] = {"data_dir": tmp_path, "enclave_token": SecretStr("t")}
    values.update(overrides)
    return EnclaveSettings(**values)  # type: ignore[arg-type]


def test_refuses_to_start_without_token(tmp_path: Path) -> None:
    with pytest.raises(EnclaveStartupError, match="NSL_ENCLAVE_TOKEN"):
        build_server(_settings(tmp_path, enclave_token=None))
    with pytest.raises(EnclaveStartupError, match="NSL_ENCLAVE_TOKEN"):
        build_server(_settings(tmp_path, enclave_token=SecretStr("")))


_CLIENTS = SecretStr('{"api": "api-token-0123456789", "worker": "worker-token-012345"}')


def test_production_refuses_simulation_unless_allowed(tmp_path: Path) -> None:
    with pytest.raises(EnclaveStartupError, match="ALLOW_SIMULATION"):
        build_server(_settings(tmp_path, env=Environment.PRODUCTION, enclave_clients=_CLIENTS))
    server = build_server(
        _settings(tmp_path, env=Environment.PRODUCTION, tee_allow_simulation=True, enclave_clients=_CLIENTS)
    )
    assert server.socket_path == tmp_path / "enclave.sock"


def test_gramine_without_attestation_dir_refuses(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, tee_platform=TeePlatform.GRAMINE_SGX, gramine_attestation_dir=tmp_path / "no"
    )
    with pytest.raises(EnclaveStartupError, match="Gramine"):
        build_server(settings)
