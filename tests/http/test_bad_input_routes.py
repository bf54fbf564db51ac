"""Bad input never hurts the API: every operation of a real ``nsl serve``, over loopback HTTP.

For every operation in ``/openapi.json`` (with a tenant API key holding every tenant scope, so that
bodies reach validation): garbage bodies, a body over the size limit (declared and chunked), JSON
nested 10k and 100k levels deep, lone surrogates, invalid UTF-8 in the path, invalid UTF-8 and control
bytes in headers. Each answer is a 4xx (a problem document when the app answers; uvicorn itself answers
malformed HTTP with a plain 400) or a closed connection, never a 5xx; and afterwards the process still
answers, holds no more file descriptors than before and its memory stayed bounded.

The server has no chain (``nsl chain up`` takes minutes): the few operations that answer 503
"dependency-unavailable" to a well-formed request too may answer that to bad input as well.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.http.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from tests.http.serverproc import ServerProcess, running_server
from tests.http.test_openapi_conformance import _server_env, _tenant_key
from tests.integration.enclave.enclave_process_fakes import EnclaveProcess

SEED = 19
MAX_BODY = 256 * 1024
RSS_GROWTH_LIMIT = 50 * 1024 * 1024
METHODS = ("get", "post", "put", "patch", "delete")
#: uvicorn's own answer to a request it cannot parse (the app never sees it)
UVICORN_BAD_REQUEST = b"Invalid HTTP request received."


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    url: str
    properties: tuple[str, ...]
    has_body: bool
    public: bool


@dataclass
class Api:
    server: ServerProcess
    key: str
    operations: list[Operation]
    #: operations answering 503 to a well-formed request (no chain here)
    unavailable: set[tuple[str, str]] = field(default_factory=set)
    fds: int = 0
    rss: int = 0

    @property
    def port(self) -> int:
        return int(self.server.base_url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.server.process.pid


def _properties(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _properties(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    found = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
        found.update(_properties(spec, part))
    return found


def _operations(spec: dict[str, Any], tenant: str) -> list[Operation]:
    operations = []
    for template, item in spec["paths"].items():
        url = re.sub(r"\{[^}]+\}", "x1", template.replace("{tenant_id}", tenant))
        for method in METHODS:
            if method not in item:
                continue
            content = item[method].get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            properties = tuple(_properties(spec, schema)) if schema else ()
            public = not item[method].get("security")
            operations.append(
                Operation(method.upper(), template, url, properties, schema is not None, public)
            )
    return operations


def _fd_count(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-bad-"))  # short: Unix socket paths are limited
    enclave = EnclaveProcess(directory, directory / "e.sock")
    enclave.start()
    try:
        env = _server_env(enclave, directory / "nsl.db") | {"NSL_MAX_BODY_BYTES": str(MAX_BODY)}
        settings = Settings(
            data_dir=directory,
            env="test",
            database_url=env["NSL_DATABASE_URL"],
            enclave_socket=enclave.socket_path,
            enclave_token=enclave.token,
            password_hash_time_cost=1,
            password_hash_memory_kib=64,
            password_hash_parallelism=1,
        )
        key = asyncio.run(_tenant_key(settings))
        with running_server(directory, env) as server, httpx.Client(base_url=server.base_url) as http:
            auth = {"authorization": f"Bearer {key}"}
            tenant = http.get("/api/v1/auth/me", headers=auth).json()["tenant"]
            api = Api(server, key, _operations(http.get("/openapi.json").json(), tenant))
            for op in api.operations:  # a well-formed (empty) request each: warms every pool up
                answer = http.request(op.method, op.url, headers=auth)
                if answer.status_code == 503:
                    assert answer.json()["type"] == PROBLEM_TYPE_BASE + "dependency-unavailable"
                    api.unavailable.add((op.method, op.template))
            api.fds, api.rss = _fd_count(api.pid), _rss_bytes(api.pid)
            yield api
            assert "Traceback" not in server.log(), server.log()[-4000:]
    finally:
        if enclave.process is not None and enclave.process.poll() is None:
            enclave.process.kill()
            enclave.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _check(
    api: Api, op: Operation, case: str, answer: tuple[int, str, bytes], *, ignored: bool = False
) -> None:
    """A 4xx (a problem document when the app answered), or an operation's own 503 without a chain;
    or, when the operation rightly ``ignored`` what was bad (a body it does not take, a header a
    public route does not read), its ordinary answer."""
    status, content_type, body = answer
    where = f"{op.method} {op.template} ({case}): {status} {body[:300]!r}"
    if status == 503 and (op.method, op.template) in api.unavailable:
        return
    if ignored and status < 400:
        return
    assert 400 <= status < 500, where
    if body.startswith(UVICORN_BAD_REQUEST):
        assert status == 400, where
        return
    assert content_type == PROBLEM_CONTENT_TYPE, where
    problem = json.loads(body)
    assert problem["status"] == status, where
    assert problem["type"].startswith(PROBLEM_TYPE_BASE), where


def _settled_fd_count(pid: int, baseline: int) -> int:
    """The server's fd count once it has closed what its peers closed (polled, at most ~5 s)."""
    count = _fd_count(pid)
    for _ in range(100):
        if count <= baseline:
            break
        time.sleep(0.05)
        count = _fd_count(pid)
    return count


def _still_well(api: Api) -> None:
    assert api.server.process.poll() is None, api.server.log()[-4000:]
    assert httpx.get(f"{api.server.base_url}/health/live").status_code == 200
    assert _settled_fd_count(api.pid, api.fds) <= api.fds
    assert _rss_bytes(api.pid) - api.rss < RSS_GROWTH_LIMIT


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_garbage_huge_and_deep_bodies_get_a_4xx_on_every_operation(api: Api) -> None:
    rng = random.Random(SEED)
    headers = {"authorization": f"Bearer {api.key}", "content-type": "application/json"}
    with httpx.Client(base_url=api.server.base_url, headers=headers, timeout=30) as http:
        for op in api.operations:
            fields = op.properties or ("x",)
            bodies = {
                "random bytes": bytes(rng.getrandbits(8) for _ in range(512)),
                "over the size limit": b"[" + b"1," * (MAX_BODY // 2) + b"1]",
                "10k nested arrays": _deep(10_000),
                "100k nested arrays": b"[" * 100_000,
                "10k nested objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
                "10k nested arrays in each field": b"{"
                + b",".join(b'"%s":%s' % (name.encode(), _deep(10_000)) for name in fields)
                + b"}",
            }
            for case, body in bodies.items():
                if not op.has_body and case not in ("random bytes", "over the size limit"):
                    continue  # it reads no body: one is enough to show that it ignores it
                answer = http.request(op.method, op.url, content=body)
                got = (answer.status_code, answer.headers["content-type"], answer.content)
                _check(api, op, case, got, ignored=not op.has_body)
                if case == "over the size limit":
                    assert answer.status_code == 413, (op, answer.text)
    _still_well(api)


def test_lone_surrogates_in_a_body_get_a_422_on_every_operation(api: Api) -> None:
    # they used to reach code that encodes text as UTF-8 and fail there with a 500 (secret values,
    # refresh tokens); now the edge refuses them before any route reads the body
    headers = {"authorization": f"Bearer {api.key}", "content-type": "application/json"}
    with httpx.Client(base_url=api.server.base_url, headers=headers, timeout=30) as http:
        for op in api.operations:
            fields = op.properties or ("x",)
            texts = (
                (b'"a\\udfff"', b'["\xed\xa0\x80"]', b'{"\\udbff": 1}') if op.has_body else (b'"\\ud800"',)
            )
            for text in texts:
                body = b"{" + b",".join(b'"%s":%s' % (name.encode(), text) for name in fields) + b"}"
                answer = http.request(op.method, op.url, content=body)
                assert answer.status_code == 422, (op, text, answer.text)
                _check(api, op, "lone surrogate", (422, answer.headers["content-type"], answer.content))
        # a surrogate pair (how ``json.dumps`` escapes an emoji) is Unicode text: accepted
        paired = http.put("/api/v1/secrets/paired", content=b'{"value": "\\ud83d\\ude00"}')
        assert paired.status_code in (200, 201), paired.text
    _still_well(api)


def _raw(api: Api, request: bytes) -> tuple[int, str, bytes] | None:
    """Send ``request`` on a fresh connection; the status, content type and body, or None when the
    server closed the connection without answering."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        try:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            return None
    data = b"".join(chunks)
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    content_type = headers.get("content-type", "")
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return status, content_type, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2 :]
    return out


def test_invalid_utf8_and_control_bytes_in_paths_and_headers_get_a_4xx_or_a_close(api: Api) -> None:
    auth = f"Authorization: Bearer {api.key}\r\n".encode()
    for op in api.operations:
        method, url = op.method.encode(), op.url.encode()
        mangled = url.replace(b"x1", b"%FF%FE%ED%A0%80") if b"x1" in url else url + b"/%FF%FE%00"
        chunk = b"[" * 0x8000
        requests = {
            "invalid UTF-8 in the path": (method + b" " + url + b"/\xff\xfe", auth),
            "percent-encoded invalid UTF-8 in the path": (method + b" " + mangled, auth),
            "invalid UTF-8 in the query": (method + b" " + url + b"?\xff=\xfe&limit=%FF", auth),
            "invalid UTF-8 in headers": (
                method + b" " + url,
                b"Authorization: Bearer nsl_\xff\xfe_\xc3\x28\r\n"
                b"X-Request-ID: \xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\r\n"
                b"Accept: \xff\r\nCookie: a=\xff\r\nContent-Type: application/json; charset=\xff\r\n",
            ),
            "control bytes in a header": (method + b" " + url, auth + b"X-Thing: a\x01\x02b\r\n"),
            "NUL in a header": (method + b" " + url, auth + b"X-Thing: a\x00b\r\n"),
            "lone surrogate split across chunks": (
                method + b" " + url,
                auth
                + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b'5\r\n{"a":\r\n4\r\n"\\ud\r\n5\r\n800"}\r\n0\r\n',
            ),
            "chunked body over the limit": (
                method + b" " + url,
                auth
                + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + (b"8000\r\n" + chunk + b"\r\n") * (MAX_BODY // len(chunk) + 1)
                + b"0\r\n",
            ),
        }
        for case, (line, headers) in requests.items():
            request = line + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + b"\r\n"
            answer = _raw(api, request)
            if answer is None:
                continue  # closed without an answer: allowed
            unread = case == "invalid UTF-8 in headers" and op.public  # it reads none of them
            unread = unread or (case.startswith("chunked") and not op.has_body)
            _check(api, op, case, answer, ignored=unread)
            if case.startswith("lone surrogate"):
                assert answer[0] == 422, (op, answer)
            if case.startswith("chunked") and op.has_body:
                assert answer[0] == 413, (op, answer)
    _still_well(api)
