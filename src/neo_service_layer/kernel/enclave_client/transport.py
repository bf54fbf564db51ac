"""Framed request/response over a pool of Unix-socket connections to the enclave."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.wire.keys import ERRORS_BY_CODE
from neo_service_layer.enclave.wire.protocol import (
    PROTOCOL_VERSION,
    IncompleteFrame,
    ProtocolError,
    encode_frame,
    parse_json,
    read_frame,
)
from neo_service_layer.kernel.enclave_client.ports import EnclaveTimeout, EnclaveUnavailable


class EnclaveRequestRejected(Exception):
    """The enclave refused the request itself (bad token, malformed request, internal error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class EnclaveTransport:
    """One request in flight per connection; at most ``pool_size`` connections; stale ones replaced."""

    def __init__(
        self, endpoint: str | tuple[str, int], token: str, *, pool_size: int, timeout: float
    ) -> None:
        if not token:
            raise ValueError("the enclave client needs the enclave token")
        self._endpoint = endpoint
        self._token = token
        self._timeout = timeout
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[_Connection] = []
        self._ids = itertools.count(1)

    async def close(self) -> None:
        """Close idle pooled connections."""
        while self._idle:
            conn = self._idle.pop()
            conn.close()
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()

    async def call(
        self, op: str, args: Mapping[str, Any], *, idempotent: bool, timeout: float | None = None
    ) -> dict[str, Any]:
        """One request and its result; ``timeout`` overrides the transport's for a slow op."""
        wait = self._timeout if timeout is None else timeout
        request_id = next(self._ids)
        clean_args = {k: v for k, v in args.items() if v is not None}
        frame = encode_frame(
            {"v": PROTOCOL_VERSION, "id": request_id, "token": self._token, "op": op, "args": clean_args}
        )
        for attempt in range(2):
            conn, reused = await self._acquire()
            healthy = False
            try:
                async with asyncio.timeout(wait):
                    conn.writer.write(frame)
                    await conn.writer.drain()
                    body = await read_frame(conn.reader)
                if body is None:
                    raise ConnectionResetError("enclave closed the connection")
                healthy = True
            except TimeoutError:
                raise EnclaveTimeout(f"enclave did not answer {op} within {wait}s") from None
            except (OSError, IncompleteFrame) as exc:
                if reused and idempotent and attempt == 0:
                    continue  # a pooled connection went stale (enclave restarted): try a fresh one
                raise EnclaveUnavailable(f"enclave connection lost during {op}") from exc
            finally:
                self._release(conn, healthy)
            return _result(body, request_id)
        raise EnclaveUnavailable(f"enclave connection lost during {op}")

    async def _acquire(self) -> tuple[_Connection, bool]:
        await self._slots.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.usable():
                    return conn, True
                conn.close()
            async with asyncio.timeout(self._timeout):
                if isinstance(self._endpoint, tuple):
                    reader, writer = await asyncio.open_connection(*self._endpoint)
                else:
                    reader, writer = await asyncio.open_unix_connection(self._endpoint)
            return _Connection(reader, writer), False
        except TimeoutError:
            self._slots.release()
            raise EnclaveTimeout("connecting to the enclave timed out") from None
        except OSError as exc:
            self._slots.release()
            raise EnclaveUnavailable(f"enclave at {self._endpoint} is not accepting connections") from exc
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: _Connection, healthy: bool) -> None:
        if healthy and conn.usable():
            self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()


def _result(body: bytes, request_id: int) -> dict[str, Any]:
    """The result of a response frame, or the matching exception."""
    try:
        response = parse_json(body)
    except ProtocolError:
        raise EnclaveRequestRejected("bad_response", "enclave answered with malformed JSON") from None
    if response.get("id") != request_id:
        raise EnclaveRequestRejected("bad_response", "enclave answered another request")
    if response.get("ok") is True and isinstance(response.get("result"), dict):
        result: dict[str, Any] = response["result"]
        return result
    error = response.get("error")
    code = str(error.get("code")) if isinstance(error, dict) else "bad_response"
    message = str(error.get("message", "")) if isinstance(error, dict) else "malformed error response"
    domain_error = ERRORS_BY_CODE.get(code)
    if domain_error is not None:
        raise domain_error(message)
    raise EnclaveRequestRejected(code, message)
