"""Wire protocol of the enclave RPC: length-prefixed JSON frames over a Unix socket.

Frame: 4-byte big-endian body length, then a UTF-8 JSON object. Request:
``{"v": 1, "id": <int>, "token": <the client's token>, "op": <name>, "args": {...}}``. Response:
``{"v": 1, "id": <same>, "ok": true, "result": {...}}`` or
``{"v": 1, "id": <same>, "ok": false, "error": {"code": <code>, "message": <text>}}``.
Binary values are standard base64 strings. Bodies above ``MAX_FRAME`` are refused unread.

The token names the client (``api``, ``worker``, ``cli``: each host process has its own); an unknown
token answers ``unauthorized`` and closes the connection, an operation outside the client's list
(``enclave/clients.py``) answers ``operation_not_allowed`` (``keys.OperationNotAllowed``).

Batches: ``sign_batch`` takes ``messages`` as a list of base64 strings and answers ``signatures`` the
same way. ``sign_batch_packed``, a later addition to protocol 1 (an enclave from before it answers
``unknown_op``, and the client then keeps to ``sign_batch``), does the same with one base64 string each
way: the items concatenated, each prefixed with its 4-byte big-endian length (``encoding.pack_blobs``).
It saves a JSON string and a base64 call per item on both sides.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from neo_service_layer.enclave.wire.encoding import (
    b64decode,
    b64encode,
    json_holds_lone_surrogate,
    unpack_blobs,
)
from neo_service_layer.enclave.wire.keys import KeyInfo, KeyKind, KeyStatus, SealedKey

PROTOCOL_VERSION = 1
MAX_FRAME = 1024 * 1024
#: longest string id echoed back; a longer one (or another type) is answered with id null, so that an
#: error response can never outgrow ``MAX_FRAME`` by repeating the request
MAX_ID_LENGTH = 128
_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """A request the server cannot act on; ``code`` goes back in the error response."""

    code: ClassVar[str] = "bad_request"


class FrameTooLarge(ProtocolError):
    code = "frame_too_large"


class IncompleteFrame(ProtocolError):
    code = "bad_frame"


class BadJson(ProtocolError):
    code = "bad_json"


class UnsupportedVersion(ProtocolError):
    code = "unsupported_version"


class Unauthorized(ProtocolError):
    code = "unauthorized"


class UnknownOp(ProtocolError):
    code = "unknown_op"


class BadRequest(ProtocolError):
    code = "bad_request"


def encode_frame(message: Mapping[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME:
        raise FrameTooLarge(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return _LENGTH.pack(len(body)) + body


async def read_frame(
    reader: asyncio.StreamReader, body_timeout: float | None = None, header_timeout: float | None = None
) -> bytes | None:
    """The next frame body; ``None`` on a clean end of stream between frames.

    Raises ``FrameTooLarge`` without reading the body, ``IncompleteFrame`` if the stream ends (or
    ``body_timeout`` passes) inside a frame, or no frame header arrives within ``header_timeout``.
    """
    try:
        async with asyncio.timeout(header_timeout):
            header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise IncompleteFrame("stream ended inside a frame header") from None
        return None
    except TimeoutError:
        raise IncompleteFrame("no frame arrived in time") from None
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME:
        raise FrameTooLarge(f"frame of {length} bytes exceeds {MAX_FRAME}")
    try:
        async with asyncio.timeout(body_timeout):
            return await reader.readexactly(length)
    except (asyncio.IncompleteReadError, TimeoutError):
        raise IncompleteFrame("stream ended inside a frame body") from None


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadJson("frame body is not JSON") from None
    if not isinstance(message, dict):
        raise BadJson("frame body is not a JSON object")
    if json_holds_lone_surrogate(body, message):
        raise BadJson("frame body holds a lone surrogate (not Unicode text)")
    return message


@dataclass(frozen=True, slots=True)
class Request:
    id: int | str | None
    op: str
    args: Args
    #: the client whose token the request carried; None when the server knows a single token
    client: str | None = None


def decode_request(body: bytes, credentials: bytes | Mapping[str, bytes]) -> Request:
    """Validate framing-level fields and the token; raises a ``ProtocolError`` subclass.

    ``credentials`` is one token, or the token of each client by name: the request's ``client`` is
    then the name whose token it carried. Every token is compared (in constant time) whatever matched.
    """
    message = parse_json(body)
    request_id = _echoable_id(message.get("id"))
    if message.get("v") != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"protocol version must be {PROTOCOL_VERSION}")
    client = authenticate(message.get("token"), credentials)
    op, args = message.get("op"), message.get("args", {})
    if not isinstance(op, str):
        raise BadRequest("op must be a string")
    if not isinstance(args, dict):
        raise BadRequest("args must be an object")
    return Request(request_id, op, Args(args), client)


def authenticate(presented: object, credentials: bytes | Mapping[str, bytes]) -> str | None:
    """The name of the client whose token was presented (None for a single token); else ``Unauthorized``."""
    if not isinstance(presented, str):
        raise Unauthorized("missing or wrong token")
    candidate = presented.encode()
    if isinstance(credentials, bytes):
        if not hmac.compare_digest(candidate, credentials):
            raise Unauthorized("missing or wrong token")
        return None
    matched: str | None = None
    for name, token in credentials.items():  # no early exit: the time does not say which matched
        if hmac.compare_digest(candidate, token) and matched is None:
            matched = name
    if matched is None:
        raise Unauthorized("missing or wrong token")
    return matched


def request_id_of(body: bytes) -> int | str | None:
    """Best-effort id of a request that failed validation, to echo in the error response."""
    try:
        value = json.loads(body).get("id")
    except (UnicodeDecodeError, ValueError, RecursionError, AttributeError):
        return None
    return _echoable_id(value)


def _echoable_id(value: object) -> int | str | None:
    """``value`` when it is an id the response may repeat (an integer, or a short string), else None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        return None
    return value


def ok_response(request_id: int | str | None, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": True, "result": dict(result)}


def error_response(request_id: int | str | None, code: str, message: str) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": False, "error": {"code": code, "message": message}}


class Args:
    """Typed access to request arguments; every mismatch raises ``BadRequest`` naming the field."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def _get(self, name: str, kind: type | tuple[type, ...], optional: bool) -> Any:
        value = self._values.get(name)
        if value is None:
            if optional:
                return None
            raise BadRequest(f"missing field {name!r}")
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise BadRequest(f"field {name!r} has the wrong type")
        return value

    def raw(self, name: str) -> Any:
        """The value as sent (any JSON type, or None when absent), for checks that must not raise."""
        return self._values.get(name)

    def text(self, name: str) -> str:
        return str(self._get(name, str, False))

    def integer(self, name: str) -> int:
        return int(self._get(name, int, False))

    def opt_text(self, name: str) -> str | None:
        value = self._get(name, str, True)
        return None if value is None else str(value)

    def opt_list(self, name: str) -> list[Any]:
        return list(self._get(name, list, True) or [])

    def opt_integer(self, name: str) -> int | None:
        value = self._get(name, int, True)
        return None if value is None else int(value)

    def blob(self, name: str) -> bytes:
        return self._decode(name, self.text(name))

    def blob_list(self, name: str) -> list[bytes]:
        items = self._get(name, list, False)
        if not all(isinstance(item, str) for item in items):
            raise BadRequest(f"field {name!r} must be a list of base64 strings")
        return [self._decode(name, item) for item in items]

    def packed_blobs(self, name: str) -> list[bytes]:
        """A base64 string of items packed by ``encoding.pack_blobs``."""
        try:
            return unpack_blobs(self.blob(name))
        except ValueError:
            raise BadRequest(f"field {name!r} is not a packed list") from None

    def text_list(self, name: str) -> list[str]:
        items = self._get(name, list, True) or []
        if not all(isinstance(item, str) for item in items):
            raise BadRequest(f"field {name!r} must be a list of strings")
        return list(items)

    def mapping(self, name: str) -> dict[str, Any]:
        return dict(self._get(name, dict, False))

    def opt_mapping(self, name: str) -> dict[str, Any] | None:
        value = self._get(name, dict, True)
        return None if value is None else dict(value)

    @staticmethod
    def _decode(name: str, text: str) -> bytes:
        try:
            return b64decode(text)
        except ValueError:
            raise BadRequest(f"field {name!r} is not base64") from None


# Value encodings shared by server and client ------------------------------------------------------


def key_info_to_wire(info: KeyInfo) -> dict[str, Any]:
    return {
        "key_id": info.key_id,
        "kind": info.kind.value,
        "version": info.version,
        "public_key": b64encode(info.public_key),
        "status": info.status.value,
        "tenant": info.tenant,
    }


def key_info_from_wire(data: Mapping[str, Any]) -> KeyInfo:
    """Raises ``KeyError``, ``TypeError`` or ``ValueError`` on malformed input."""
    version = data["version"]
    if not isinstance(version, int):
        raise TypeError("version must be an integer")
    return KeyInfo(
        key_id=str(data["key_id"]),
        kind=KeyKind(data["kind"]),
        version=version,
        public_key=b64decode(data["public_key"]),
        status=KeyStatus(data["status"]),
        tenant=str(data["tenant"]),
    )


def sealed_key_to_wire(sealed: SealedKey) -> dict[str, Any]:
    return {"info": key_info_to_wire(sealed.info), "sealed_record": b64encode(sealed.sealed_record)}


def sealed_key_from_wire(data: Mapping[str, Any]) -> SealedKey:
    return SealedKey(key_info_from_wire(data["info"]), b64decode(data["sealed_record"]))
