"""Bad input never hurts the enclave: malformed frames to the real process over its Unix socket.

Every malformed frame gets an error frame, or the connection is closed; afterwards the enclave still
answers an authenticated client, and the connections it was sent hold no file descriptor and left its
memory bounded. Randomness is seeded, so a failure replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from neo_service_layer.enclave.server import MAX_CONNECTIONS
from neo_service_layer.enclave.wire.protocol import MAX_FRAME, MAX_ID_LENGTH
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from tests.integration.enclave.enclave_process_fakes import EnclaveProcess

SEED = 19
#: RSS the barrage may add (it sends a few frames of 1 MiB; a leak of them would add far more)
RSS_GROWTH_LIMIT = 50 * 1024 * 1024


@pytest.fixture
def enclave() -> Iterator[EnclaveProcess]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-bad-"))  # short: Unix socket paths are limited
    process = EnclaveProcess(directory, directory / "e.sock")
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def _request(enclave: EnclaveProcess, **fields: object) -> bytes:
    message: dict[str, object] = {"v": 1, "id": 1, "token": enclave.token, "op": "random", "args": {"n": 4}}
    message.update(fields)
    return _frame(json.dumps(message, ensure_ascii=False).encode())


def _authenticated_body(enclave: EnclaveProcess, args: bytes) -> bytes:
    """An authenticated ``random`` request whose ``args`` are the raw bytes given."""
    head = b'{"v":1,"id":5,"token":"' + enclave.token.encode() + b'","op":"random","args":'
    return _frame(head + args + b"}")


async def _exchange(
    enclave: EnclaveProcess, data: bytes, *, then_eof: bool = False, expect_close: bool = False
) -> dict[str, object] | None:
    """Send ``data`` (then end the stream when ``then_eof``) and read one response frame, or None when
    the enclave closed without one. With ``expect_close``, the enclave must then close the connection
    itself (checked by reading on: EOF, not a second frame or a hang)."""
    reader, writer = await asyncio.open_unix_connection(str(enclave.socket_path))
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):  # it stopped reading a refused frame and closed
            await writer.drain()
            if then_eof:
                writer.write_eof()
        async with asyncio.timeout(10):  # a guard against a hang, not a measurement
            header = await reader.read(4)
            if len(header) < 4:
                return None
            body = await reader.readexactly(struct.unpack(">I", header)[0])
            if expect_close:
                assert await reader.read(1) == b"", "the enclave kept the connection open"
        answer: dict[str, object] = json.loads(body)
        return answer
    finally:
        writer.close()


def _cases(enclave: EnclaveProcess) -> list[tuple[str, bytes, str | None]]:
    """(name, bytes sent, expected error code, or None for a close without an answer)."""
    rng = random.Random(SEED)
    garbage = bytes(rng.getrandbits(8) for _ in range(4096))
    return [
        ("length prefix above the maximum", struct.pack(">I", MAX_FRAME + 1) + b"{}", "frame_too_large"),
        ("length prefix 4 GiB", struct.pack(">I", 0xFFFFFFFF), "frame_too_large"),
        ("truncated header, then close", b"\x00\x00", None),
        ("truncated body, then close", struct.pack(">I", 1000) + b'{"v":1,', None),
        ("empty body", _frame(b""), "bad_json"),
        ("random bytes", _frame(garbage), "bad_json"),
        ("JSON array", _frame(b"[1,2,3]"), "bad_json"),
        ("JSON string", _frame(b'"random"'), "bad_json"),
        ("JSON null", _frame(b"null"), "bad_json"),
        ("100k nested arrays", _frame(b"[" * 100_000), "bad_json"),
        ("nested objects up to the maximum", _frame(b'{"a":' * (MAX_FRAME // 5)), "bad_json"),
        (
            "100k nested arrays in args",
            _authenticated_body(enclave, b"[" * 100_000 + b"]" * 100_000),
            "bad_json",
        ),
        ("invalid UTF-8", _frame(b'{"v":1,"id":1,"token":"\xff\xfe","op":"random"}'), "bad_json"),
        ("UTF-8 surrogate", _frame(b'{"v":1,"id":1,"token":"\xed\xa0\x80","op":"random"}'), "bad_json"),
        ("integer of 10k digits", _frame(b'{"v":1,"id":' + b"9" * 10_000 + b"}"), "bad_json"),
        ("unknown op", _request(enclave, op="no_such_op"), "unknown_op"),
        ("unknown op of 500k characters", _request(enclave, op="z" * 500_000), "unknown_op"),
        ("args not an object", _request(enclave, args=[1]), "bad_request"),
        ("wrong token", _request(enclave, token="x" * 10_000), "unauthorized"),
    ]


async def test_each_malformed_frame_gets_an_error_frame_or_a_closed_connection(
    enclave: EnclaveProcess,
) -> None:
    for name, data, code in _cases(enclave):
        closes = code in (None, "frame_too_large", "unauthorized")  # framing lost, or a stranger
        answer = await _exchange(enclave, data, then_eof=code is None, expect_close=closes)
        if code is None:
            assert answer is None, name
            continue
        assert answer is not None, name
        assert answer["ok"] is False, (name, answer)
        error = answer["error"]
        assert isinstance(error, dict), (name, answer)
        assert error["code"] == code, (name, answer)
        assert enclave.token not in json.dumps(answer), name
    assert enclave.process is not None
    assert enclave.process.poll() is None


async def test_a_frame_just_under_the_maximum_is_served(enclave: EnclaveProcess) -> None:
    overhead = len(_request(enclave, args={"n": 4, "pad": ""}))
    padded = _request(enclave, args={"n": 4, "pad": "a" * (MAX_FRAME + 4 - overhead)})
    assert len(padded) == MAX_FRAME + 4
    answer = await _exchange(enclave, padded)
    assert answer is not None
    assert answer["ok"] is True


async def test_an_id_too_long_to_echo_never_makes_the_answer_outgrow_a_frame(enclave: EnclaveProcess) -> None:
    # 300k "é" (600 kB as sent) is 1.8 MB once escaped in the answer: it used to break the response
    # (a traceback, and the connection reset instead of an answer)
    for fields in ({}, {"v": 9}, {"token": "wrong"}):
        answer = await _exchange(enclave, _request(enclave, id="é" * 300_000, **fields))
        assert answer is not None
        assert answer["id"] is None
    short = "é" * MAX_ID_LENGTH
    answer = await _exchange(enclave, _request(enclave, id=short))
    assert answer is not None
    assert (answer["id"], answer["ok"]) == (short, True)
    assert "Traceback" not in enclave.log_path.read_text()


def _fd_count(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def _settled_fd_count(pid: int, baseline: int) -> int:
    """The fd count once the enclave has closed what its peers closed (polled, at most ~5 s)."""
    count = _fd_count(pid)
    for _ in range(100):
        if count <= baseline:
            break
        await asyncio.sleep(0.05)
        count = _fd_count(pid)
    return count


async def _open_and_drop(enclave: EnclaveProcess, rng: random.Random, count: int) -> None:
    """``count`` connections at once (beyond the enclave's limit): silent, half a header, a frame left
    unfinished, or a full request; then all dropped without reading."""
    writers = []
    for i in range(count):
        _, writer = await asyncio.open_unix_connection(str(enclave.socket_path))
        kind = i % 4
        if kind == 1:
            writer.write(b"\x00\x00")
        elif kind == 2:
            writer.write(struct.pack(">I", 4096) + bytes(rng.getrandbits(8) for _ in range(100)))
        elif kind == 3:
            writer.write(_request(enclave, id=i))
        writers.append(writer)
    await asyncio.sleep(0.1)  # let the enclave see them all (and refuse those above its limit)
    for writer in writers:
        writer.close()


async def test_a_barrage_leaves_no_descriptor_behind_and_memory_bounded(enclave: EnclaveProcess) -> None:
    assert enclave.process is not None
    pid = enclave.process.pid
    client = EnclaveClient(enclave.socket_path, enclave.token, timeout=5)
    assert len(await client.random(16)) == 16  # warm: everything a normal request opens is open
    await client.close()
    await asyncio.sleep(0.2)  # for the enclave to close its side of that connection
    fds_before = _fd_count(pid)
    rss_before = _rss_bytes(pid)

    rng = random.Random(SEED)
    for _ in range(3):
        for _name, data, code in _cases(enclave):
            # refused at once while the last round's connections still fill every slot: fine here
            with contextlib.suppress(ConnectionError):
                await _exchange(enclave, data, then_eof=code is None)
        await _open_and_drop(enclave, rng, 2 * MAX_CONNECTIONS + 8)

    assert enclave.process.poll() is None, enclave.log_path.read_text()[-3000:]
    assert await _settled_fd_count(pid, fds_before) <= fds_before
    client = EnclaveClient(enclave.socket_path, enclave.token, timeout=5)
    assert len(await client.random(16)) == 16  # still serving
    await client.close()
    assert _rss_bytes(pid) - rss_before < RSS_GROWTH_LIMIT
    assert "Traceback" not in enclave.log_path.read_text()
