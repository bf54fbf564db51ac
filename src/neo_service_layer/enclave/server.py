"""The enclave's RPC server: asyncio on a Unix socket (mode 0600), one request at a time per connection.

Input never crashes the server: every malformed frame or request gets a typed error response (or,
when the framing itself is lost, the connection is closed) and other connections carry on. A response
never outgrows a frame (it becomes a ``response_too_large`` error); a connection that does not
authenticate soon after opening, or whose peer stops reading its answers, is closed, so that no peer
holds one of the ``MAX_CONNECTIONS`` slots for ever without the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import os
import socket
import stat
import traceback
from collections.abc import Mapping
from pathlib import Path

from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.wire.keys import EnclaveOperationError
from neo_service_layer.enclave.wire.protocol import (
    FrameTooLarge,
    IncompleteFrame,
    ProtocolError,
    Unauthorized,
    decode_request,
    encode_frame,
    error_response,
    ok_response,
    read_frame,
    request_id_of,
)

log = logging.getLogger(__name__)

BODY_TIMEOUT_SECONDS = 10.0
#: a peer that does not read its answers for this long (its socket buffer full) is dropped
SEND_TIMEOUT_SECONDS = 10.0
#: a connection must make an authenticated request within this long of opening, or it is closed, so
#: that connections left silent or sending only malformed frames (leaked, or a local process without
#: the token) cannot hold the ``MAX_CONNECTIONS`` slots for ever; once authenticated it may idle in a
#: client's pool
AUTHENTICATE_WITHIN_SECONDS = 10.0
MAX_CONNECTIONS = 64


class _After(enum.Enum):
    """What an answered frame leaves its connection in."""

    CLOSE = "close"
    UNAUTHENTICATED = "unauthenticated"
    AUTHENTICATED = "authenticated"


class SocketInUse(Exception):
    """Another process is already serving on the socket path."""


class EnclaveServer:
    """Serves ``EnclaveOperations`` to clients that present their token, each within its own list."""

    def __init__(
        self,
        operations: EnclaveOperations,
        token: bytes | Mapping[str, bytes],
        socket_path: Path,
        tcp_address: tuple[str, int] | None = None,
    ) -> None:
        """Listen on ``socket_path``, or on loopback TCP ``tcp_address`` when given.

        ``token`` is each client's token by name (``clients.ALLOWED`` says what each may call), or one
        token that may call everything (tests and a development enclave without NSL_ENCLAVE_CLIENTS).
        Under Gramine SGX a Unix socket inside the enclave cannot be reached from host processes, so
        the enclave must listen on loopback TCP there (the token still guards every request).
        """
        if not token or (not isinstance(token, bytes) and not all(token.values())):
            raise ValueError("the enclave needs a non-empty token")
        self._operations = operations
        self._token: bytes | Mapping[str, bytes] = token if isinstance(token, bytes) else dict(token)
        self.socket_path = socket_path
        self.tcp_address = tcp_address
        self._server: asyncio.Server | None = None
        self._connections = 0

    async def start(self) -> None:
        """Bind the socket (removing a stale one) with mode 0600, or the TCP address."""
        if self.tcp_address is not None:
            host, port = self.tcp_address
            self._server = await asyncio.start_server(self._serve, host=host, port=port)
            log.info("enclave listening", extra={"address": f"{host}:{port}"})
            return
        _remove_stale_socket(self.socket_path)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path))
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)
        log.info("enclave listening", extra={"socket": str(self.socket_path)})

    @property
    def tcp_port(self) -> int | None:
        """The bound TCP port (useful with port 0), or None on a Unix socket."""
        if self._server is None or self.tcp_address is None:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)
            self._server = None
        if self.tcp_address is None:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
        await self._operations.close_connections()
        self._operations.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        try:
            if self._connections <= MAX_CONNECTIONS:
                await self._conversation(reader, writer)
        except (ConnectionError, OSError):  # TimeoutError too: a peer that stopped reading
            writer.transport.abort()
        finally:
            self._connections -= 1
            await _close(writer)

    async def _conversation(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        deadline: float | None = loop.time() + AUTHENTICATE_WITHIN_SECONDS
        while True:
            wait = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                body = await read_frame(reader, BODY_TIMEOUT_SECONDS, header_timeout=wait)
            except FrameTooLarge as exc:
                await _send(writer, error_response(None, exc.code, str(exc)))
                return
            except IncompleteFrame:
                return
            if body is None:
                return
            response, state = await self._answer(body)
            await _send(writer, response)
            if state is _After.CLOSE:
                return
            if state is _After.AUTHENTICATED:
                deadline = None

    async def _answer(self, body: bytes) -> tuple[dict[str, object], _After]:
        """The response, and whether the connection closes, stays unauthenticated or authenticated."""
        try:
            request = decode_request(body, self._token)
        except Unauthorized as exc:
            return error_response(request_id_of(body), exc.code, str(exc)), _After.CLOSE
        except ProtocolError as exc:
            return error_response(request_id_of(body), exc.code, str(exc)), _After.UNAUTHENTICATED
        try:
            self._operations.authorize(request.client, request.op, request.args)
            outcome = self._operations.dispatch(request.op, request.args)
            result = await outcome if inspect.isawaitable(outcome) else outcome
        except (ProtocolError, EnclaveOperationError) as exc:
            return error_response(request.id, exc.code, str(exc)), _After.AUTHENTICATED
        except Exception as exc:
            where = failed_at(exc)
            log.error(
                "enclave op %s failed: %s at %s",
                request.op,
                type(exc).__name__,
                where,
                extra={"op": request.op, "error_type": type(exc).__name__, "at": where},
            )
            return error_response(request.id, "internal", "internal enclave error"), _After.AUTHENTICATED
        return ok_response(request.id, result), _After.AUTHENTICATED


def failed_at(exc: BaseException, frames: int = 4) -> str:
    """Where an unexpected error was raised: the innermost ``frames`` frames as ``file:line function``,
    innermost first. Never the error's message or a variable: either may hold a secret, and this line
    goes to the enclave's log (an unexpected error is a bug, and its place is what fixing it needs)."""
    stack = traceback.extract_tb(exc.__traceback__)[-frames:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))


async def _send(writer: asyncio.StreamWriter, message: dict[str, object]) -> None:
    """Write one response; one too large for a frame becomes a ``response_too_large`` error."""
    try:
        frame = encode_frame(message)
    except FrameTooLarge as exc:
        request_id = message.get("id")
        frame = encode_frame(
            error_response(
                request_id if isinstance(request_id, int | str) else None, "response_too_large", str(exc)
            )
        )
    writer.write(frame)
    async with asyncio.timeout(SEND_TIMEOUT_SECONDS):  # TimeoutError is an OSError: _serve closes
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close, flushing what is buffered for a while; a peer that does not take it is cut off (a
    plain close waits for the buffer to drain, for ever, and the connection keeps its slot)."""
    writer.close()
    try:
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            await writer.wait_closed()
    except Exception:
        writer.transport.abort()


def _remove_stale_socket(path: Path) -> None:
    """Unlink a leftover socket file, but refuse to take over one that someone still serves."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise SocketInUse(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
    else:
        raise SocketInUse(f"another process serves {path}")
    finally:
        probe.close()
