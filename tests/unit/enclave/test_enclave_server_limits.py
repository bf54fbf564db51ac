"""The enclave server's bounds: answers never outgrow a frame, strangers cannot hold connections, and
frames must be Unicode text."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from neo_service_layer.enclave import server as server_module
from neo_service_layer.enclave.handlers import EnclaveOperations, Result
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.server import EnclaveServer
from neo_service_layer.enclave.wire.encoding import json_holds_lone_surrogate
from neo_service_layer.enclave.wire.protocol import MAX_FRAME, Args, BadJson, parse_json

TOKEN = "token"


SECRET_IN_ERROR = "do-not-log-0123456789abcdef"


def _broken() -> Result:
    raise ValueError(f"an unexpected error carrying {SECRET_IN_ERROR}")


class _Operations(EnclaveOperations):
    """The real operations, plus ``huge``: a result larger than a frame (no real op has one yet), and
    ``broken``: a bug (an error no operation expects) whose message holds a secret."""

    def dispatch(self, op: str, args: Args) -> Result | Awaitable[Result]:
        if op == "huge":
            return {"blob": "a" * MAX_FRAME}
        if op == "broken":
            return _broken()
        return super().dispatch(op, args)


@pytest.fixture
async def socket_path(tmp_path: Path, sealer: Sealer, keystore: KeyStore) -> AsyncIterator[Path]:
    server = EnclaveServer(
        _Operations(SimulationPlatform(tmp_path), sealer, keystore), TOKEN.encode(), tmp_path / "e.sock"
    )
    await server.start()
    try:
        yield server.socket_path
    finally:
        await server.close()


def _frame(message: object) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def _request(op: str, request_id: int = 1) -> bytes:
    return _frame({"v": 1, "id": request_id, "token": TOKEN, "op": op, "args": {"n": 4}})


async def _answer(reader: asyncio.StreamReader) -> dict[str, object]:
    async with asyncio.timeout(5):
        header = await reader.readexactly(4)
        answer: dict[str, object] = json.loads(await reader.readexactly(struct.unpack(">I", header)[0]))
    return answer


async def test_an_answer_larger_than_a_frame_becomes_an_error_and_the_connection_serves_on(
    socket_path: Path,
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    writer.write(_request("huge", 7))
    huge = await _answer(reader)
    assert huge["id"] == 7
    assert huge["ok"] is False
    error = huge["error"]
    assert isinstance(error, dict)
    assert error["code"] == "response_too_large"
    writer.write(_request("random", 8))
    assert (await _answer(reader))["ok"] is True
    writer.close()


async def test_an_unexpected_error_is_internal_and_logged_with_its_place_never_its_message(
    socket_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    with caplog.at_level(logging.ERROR, logger=server_module.__name__):
        writer.write(_request("broken", 3))
        broken = await _answer(reader)
    assert broken["ok"] is False
    assert broken["error"] == {"code": "internal", "message": "internal enclave error"}
    (record,) = [r for r in caplog.records if r.name == server_module.__name__]
    line = record.getMessage()
    assert line.startswith("enclave op broken failed: ValueError at test_enclave_server_limits.py:")
    assert "_broken < test_enclave_server_limits.py:" in line  # innermost frame first, then its caller
    assert record.exc_info is None  # no traceback: it would print the message
    assert SECRET_IN_ERROR not in caplog.text
    writer.write(_request("random", 4))
    assert (await _answer(reader))["ok"] is True  # the connection serves on
    writer.close()


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(5):  # a guard against a hang: the deadline under test is 0.2 s
        return await reader.read(1) == b""


async def test_a_connection_that_does_not_authenticate_in_time_is_closed(
    socket_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "AUTHENTICATE_WITHIN_SECONDS", 0.2)
    silent, _silent_writer = await asyncio.open_unix_connection(str(socket_path))
    assert await _closed_by_server(silent)

    # malformed frames are answered, but do not keep a stranger's connection open past the deadline
    chatty, chatty_writer = await asyncio.open_unix_connection(str(socket_path))
    chatty_writer.write(_frame(["not", "an", "object"]))
    assert (await _answer(chatty))["error"] == {
        "code": "bad_json",
        "message": "frame body is not a JSON object",
    }
    assert await _closed_by_server(chatty)

    # an authenticated connection may idle in a client's pool as long as it likes
    pooled, pooled_writer = await asyncio.open_unix_connection(str(socket_path))
    pooled_writer.write(_request("random", 1))
    assert (await _answer(pooled))["ok"] is True
    await asyncio.sleep(0.5)
    pooled_writer.write(_request("random", 2))
    assert (await _answer(pooled))["id"] == 2
    for writer in (_silent_writer, chatty_writer, pooled_writer):
        writer.close()


async def test_a_peer_that_does_not_read_its_answers_is_dropped(
    socket_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "SEND_TIMEOUT_SECONDS", 0.2)
    reader, writer = await asyncio.open_unix_connection(str(socket_path), limit=1024)
    requests = 500  # each answer is 5 kB of base64: far more than the socket buffers hold
    for request_id in range(requests):
        writer.write(_frame({"v": 1, "id": request_id, "token": TOKEN, "op": "random", "args": {"n": 4096}}))
    await asyncio.sleep(1)  # the enclave blocks writing, gives up after 0.2 s and cuts the connection
    answers = 0
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while True:
            await _answer(reader)
            answers += 1
    assert 0 < answers < requests
    writer.close()


@pytest.mark.parametrize(
    "text",
    [
        b'"\\ud800"',
        b'{"a": ["x", "\\uDFFF"]}',
        b'{"\\udbff": 1}',
        b'"\xed\xa0\x80"',
        b"[" * 900 + b'"\\ud800"' + b"]" * 900,
    ],
)
def test_a_lone_surrogate_is_not_json_text(text: bytes) -> None:
    assert json_holds_lone_surrogate(text, json.loads(text))
    with pytest.raises(BadJson, match="surrogate"):
        parse_json(b'{"v": 1, "x": ' + text + b"}")


@pytest.mark.parametrize(
    "text", [b'"\\ud83d\\ude00"', b'"\\\\ud800"', json.dumps("é😀", ensure_ascii=False).encode(), b'"ud800"']
)
def test_a_surrogate_pair_or_an_escaped_backslash_is_text(text: bytes) -> None:
    assert not json_holds_lone_surrogate(text, json.loads(text))
    assert parse_json(b'{"x": ' + text + b"}")["x"] == json.loads(text)
