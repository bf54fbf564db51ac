"""A local HTTP server speaking the parts of Vault's wire protocol that the Vault source uses.

Endpoints (shapes as Vault 1.x returns them):
- ``GET /v1/<mount>/data/<path>[?version=N]``: KV v2 read (``data.data`` + ``data.metadata``);
- ``LIST /v1/<mount>/metadata/<path>`` (or ``GET ...?list=true``): ``data.keys``, folders end in ``/``;
- ``POST /v1/auth/<approle mount>/login`` with ``{"role_id", "secret_id"}``: ``auth.client_token``.
Every request must carry a valid ``X-Vault-Token`` (except login); policies are path prefixes per token.
Requests are recorded so tests can check headers, paths and their order.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PERMISSION_DENIED = {"errors": ["permission denied"]}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class KvVersion:
    data: dict[str, Any]
    created_time: str
    deletion_time: str = ""
    destroyed: bool = False


@dataclass
class VaultState:
    """What the fake Vault holds. Tests edit it directly."""

    mount: str = "secret"
    approle_mount: str = "approle"
    secrets: dict[str, list[KvVersion]] = field(default_factory=dict)
    #: token -> path prefixes (inside the mount) it may read and list; "" allows everything
    tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: role_id -> (secret_id, policy path prefixes of the tokens it issues)
    approles: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: when set, each request signals ``arrived`` and waits for ``release`` before it is answered
    #: when set, every request is answered with this status (e.g. 503 as a sealed Vault does)
    fail_with: int | None = None
    hold: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def put(self, path: str, data: dict[str, Any]) -> int:
        """Write a new version (like ``vault kv put``); returns its number."""
        versions = self.secrets.setdefault(path, [])
        versions.append(
            KvVersion(data=data, created_time=f"2024-05-0{len(versions) + 1}T10:00:00.123456789Z")
        )
        return len(versions)

    def delete_latest(self, path: str) -> None:
        """Soft-delete the latest version (like ``vault kv delete``)."""
        self.secrets[path][-1].deletion_time = "2024-06-01T00:00:00Z"

    def revoke_all_tokens(self) -> None:
        self.tokens.clear()


def _metadata(version: KvVersion, number: int) -> dict[str, Any]:
    return {
        "created_time": version.created_time,
        "custom_metadata": None,
        "deletion_time": version.deletion_time,
        "destroyed": version.destroyed,
        "version": number,
    }


def _envelope(data: Any = None, auth: Any = None) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": None,
        "auth": auth,
        "mount_type": "kv" if auth is None else "",
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._handle()

    def do_LIST(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with state.lock:
            state.requests.append(
                RecordedRequest(
                    self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            status, answer = self._route(state, self.command, path, query, body)
        if state.hold:
            state.arrived.set()
            state.release.wait(timeout=10)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(
        self, state: VaultState, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if state.fail_with is not None:
            return state.fail_with, {"errors": ["Vault is sealed"]}
        if method == "POST" and path == f"/v1/auth/{state.approle_mount}/login":
            return self._login(state, body)
        allowed = state.tokens.get(self.headers.get("X-Vault-Token") or "")
        data_prefix = f"/v1/{state.mount}/data/"
        metadata_prefix = f"/v1/{state.mount}/metadata/"
        listing = method == "LIST" or (method == "GET" and query.get("list") == ["true"])
        folder_path = path.rstrip("/") + "/"  # the mount's root may come without its trailing slash
        if listing and folder_path.startswith(metadata_prefix):
            inner = folder_path[len(metadata_prefix) :].strip("/")
        elif method == "GET" and path.startswith(data_prefix):
            inner = path[len(data_prefix) :].strip("/")
        else:
            return 404, {"errors": []}
        # Vault's router checks a LIST against the folder path with a trailing slash
        checked = f"{inner}/" if listing and inner else inner
        if allowed is None or not any(checked.startswith(p) for p in allowed):
            return 403, PERMISSION_DENIED
        if listing:
            return self._list(state, inner)
        return self._read(state, inner, query)

    def _login(self, state: VaultState, body: Any) -> tuple[int, Any]:
        role = state.approles.get(str((body or {}).get("role_id")))
        if role is None:
            return 400, {"errors": ["invalid role ID"]}
        secret_id, policies = role
        if (body or {}).get("secret_id") != secret_id:
            return 400, {"errors": ["invalid secret id"]}
        token = f"hvs.{uuid.uuid4().hex}"
        state.tokens[token] = policies
        auth = {
            "client_token": token,
            "accessor": uuid.uuid4().hex,
            "policies": ["default", "reader"],
            "token_policies": ["default", "reader"],
            "metadata": {"role_name": "reader"},
            "lease_duration": 1200,
            "renewable": True,
            "entity_id": str(uuid.uuid4()),
            "token_type": "service",
            "orphan": True,
        }
        return 200, _envelope(auth=auth) | {"mount_type": ""}

    def _read(self, state: VaultState, inner: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        versions = state.secrets.get(inner)
        if not versions:
            return 404, {"errors": []}
        wanted = int(query.get("version", ["0"])[0])
        number = wanted or len(versions)
        if number > len(versions):
            return 404, {"errors": []}
        version = versions[number - 1]
        if version.deletion_time or version.destroyed:
            return 404, _envelope(data={"data": None, "metadata": _metadata(version, number)})
        return 200, _envelope(data={"data": version.data, "metadata": _metadata(version, number)})

    def _list(self, state: VaultState, inner: str) -> tuple[int, Any]:
        folder = f"{inner}/" if inner else ""
        keys: set[str] = set()
        for path in state.secrets:
            if path.startswith(folder):
                head, slash, _ = path[len(folder) :].partition("/")
                keys.add(head + slash)
        if not keys:
            return 404, {"errors": []}
        return 200, _envelope(data={"keys": sorted(keys)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: VaultState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def running_vault(state: VaultState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
