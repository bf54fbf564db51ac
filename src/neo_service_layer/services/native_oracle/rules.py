"""Rules of Neo's native Oracle contract, for serving it as a designated oracle node.

Only the standard library is imported here. Everything below mirrors the Neo N3 protocol as
implemented by neo-go (``pkg/core/native/oracle.go``, ``pkg/core/state/oracle.go``,
``pkg/core/transaction/oracle.go``, ``pkg/services/oracle``) and the C# node:

- a request is stored by the native contract under key ``0x07 || u64be(id)`` as the binary
  serialisation of the array ``[OriginalTxid, GasForResponse, Url, Filter, CallbackContract,
  CallbackMethod, UserData]`` (Filter may be null), and deleted when a response is persisted;
- the response is a transaction with an ``OracleResponse`` attribute ``{Id, Code, Result}``, the fixed
  script calling ``Oracle.finish``, signers ``[Oracle contract (scope None), oracle nodes' multisig
  (scope None)]`` and ``networkFee + systemFee == gasForResponse``;
- the oracle nodes' account is the default multisig over the keys designated for role 8: ``m = n -
  (n - 1) // 3`` signatures.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from neo_service_layer.enclave.wire.oracle import ResultCode

#: script hash of the native Oracle contract (the same on every N3 network)
ORACLE_CONTRACT: Final = "0xfe924b7cfe89ddd271abaf7210a80a7e11178758"
#: script hash of the native RoleManagement contract
ROLE_MANAGEMENT: Final = "0x49cf4e5378ffcd4dec034fd98a174c5491e395e2"
#: script hash of the native Policy contract (``getFeePerByte`` prices response transactions)
POLICY_CONTRACT: Final = "0xcc5e4edd9f5f8dba8bb65734541df7a1c081c67b"
#: ``Role.Oracle`` in RoleManagement
ORACLE_ROLE: Final = 8
REQUEST_PREFIX: Final = 7

#: the native contract's limits on a request (bytes)
MAX_URL_BYTES: Final = 256
MAX_FILTER_BYTES: Final = 128
MAX_USER_DATA_BYTES: Final = 512
#: ``transaction.MaxOracleResultSize``: the largest result an ``OracleResponse`` attribute carries
MAX_RESULT_BYTES: Final = 65_535
#: neo-go's oracle service follows at most this many redirects
MAX_REDIRECTS: Final = 2
#: schemes Neo's oracle protocol defines (this node serves ``https``; ``neofs`` is answered as unsupported)
SCHEMES: Final = ("https", "neofs")


class NeoResponseCode(IntEnum):
    """``OracleResponseCode``: the only codes an ``OracleResponse`` attribute may carry."""

    SUCCESS = 0x00
    PROTOCOL_NOT_SUPPORTED = 0x10
    CONSENSUS_UNREACHABLE = 0x12
    NOT_FOUND = 0x14
    TIMEOUT = 0x16
    FORBIDDEN = 0x18
    RESPONSE_TOO_LARGE = 0x1A
    INSUFFICIENT_FUNDS = 0x1C
    CONTENT_TYPE_NOT_SUPPORTED = 0x1F
    ERROR = 0xFF


_FROM_RESULT: Final = {
    ResultCode.SUCCESS: NeoResponseCode.SUCCESS,
    ResultCode.NOT_FOUND: NeoResponseCode.NOT_FOUND,
    ResultCode.TIMEOUT: NeoResponseCode.TIMEOUT,
    ResultCode.FORBIDDEN: NeoResponseCode.FORBIDDEN,
    ResultCode.TOO_LARGE: NeoResponseCode.RESPONSE_TOO_LARGE,
    ResultCode.BAD_FILTER: NeoResponseCode.ERROR,  # neo-go: a failing filter is Error
    ResultCode.UNSUPPORTED_CONTENT_TYPE: NeoResponseCode.CONTENT_TYPE_NOT_SUPPORTED,
    ResultCode.UPSTREAM_ERROR: NeoResponseCode.ERROR,
}


def neo_code(code: ResultCode) -> NeoResponseCode:
    """The Neo response code for one of the enclave fetcher's result codes."""
    return _FROM_RESULT.get(code, NeoResponseCode.ERROR)


def request_key(request_id: int) -> bytes:
    """Storage key of a pending request in the native Oracle contract."""
    return bytes([REQUEST_PREFIX]) + struct.pack(">Q", request_id)


def multisig_threshold(nodes: int) -> int:
    """Signatures the oracle nodes' default multisig account needs (``n - (n - 1) / 3``)."""
    if nodes < 1:
        raise ValueError("no oracle nodes are designated")
    return nodes - (nodes - 1) // 3


class MalformedRequest(ValueError):
    """A stored request that does not deserialise as an ``OracleRequest``."""


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """A pending request as the native contract stores it."""

    original_tx: str  # 0x + 64 hex, as nodes show transaction hashes
    gas_for_response: int
    url: str
    filter: str | None
    callback_contract: str  # 0x + 40 hex
    callback_method: str
    user_data: bytes


@dataclass(frozen=True, slots=True)
class NativeParams:
    """What an ``OracleRequest`` event asked (kept for the record: answers use the stored request)."""

    url: str
    filter: str | None


@dataclass(frozen=True, slots=True)
class NativeResult:
    """What a response transaction answered: Neo's response code and the result."""

    code: NeoResponseCode
    result: bytes


@dataclass(frozen=True, slots=True)
class NativeAnswer:
    """What a response transaction carries for one request (a non-success code carries no result)."""

    request_id: int
    request: NativeRequest
    code: NeoResponseCode
    result: bytes


def parse_request(data: bytes) -> NativeRequest:
    """A stored request from its binary stack item serialisation (``MalformedRequest`` otherwise)."""
    try:
        item, end = _item(data, 0, 0)
    except (IndexError, TypeError, struct.error, UnicodeDecodeError) as exc:  # TypeError: unhashable map key
        raise MalformedRequest(f"not a serialised stack item: {exc}") from None
    if end != len(data) or not isinstance(item, list) or len(item) < 7:
        raise MalformedRequest("not an array of 7 items")
    txid, gas, url, filter_, contract, method, user_data = item[:7]
    if not (isinstance(txid, bytes) and len(txid) == 32 and isinstance(gas, int)):
        raise MalformedRequest("bad transaction id or GAS")
    if not (isinstance(contract, bytes) and len(contract) == 20 and isinstance(user_data, bytes)):
        raise MalformedRequest("bad callback contract or user data")
    if not (isinstance(url, bytes) and isinstance(method, bytes)) or not (
        filter_ is None or isinstance(filter_, bytes)
    ):
        raise MalformedRequest("bad URL, filter or method")
    try:
        return NativeRequest(
            original_tx="0x" + txid[::-1].hex(),
            gas_for_response=gas,
            url=url.decode(),
            filter=None if filter_ is None else filter_.decode(),
            callback_contract="0x" + contract[::-1].hex(),
            callback_method=method.decode(),
            user_data=user_data,
        )
    except UnicodeDecodeError:
        raise MalformedRequest("URL, filter or method is not UTF-8") from None


_MAX_DEPTH = 16


def _varint(data: bytes, at: int) -> tuple[int, int]:
    first = data[at]
    if first < 0xFD:
        return first, at + 1
    size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    return int.from_bytes(data[at + 1 : at + 1 + size], "little"), at + 1 + size


def _bytes(data: bytes, at: int) -> tuple[bytes, int]:
    length, at = _varint(data, at)
    if at + length > len(data):
        raise IndexError("truncated")
    return data[at : at + length], at + length


def _item(data: bytes, at: int, depth: int) -> tuple[Any, int]:
    """One item of NeoVM's ``BinarySerializer`` format: null, bool, int, bytes, list or dict."""
    if depth > _MAX_DEPTH:
        raise IndexError("nested too deeply")
    kind = data[at]
    at += 1
    if kind == 0x00:  # Any (null)
        return None, at
    if kind == 0x20:  # Boolean
        return data[at] != 0, at + 1
    if kind == 0x21:  # Integer
        raw, at = _bytes(data, at)
        return int.from_bytes(raw, "little", signed=True), at
    if kind in (0x28, 0x30):  # ByteString, Buffer
        return _bytes(data, at)
    if kind in (0x40, 0x41):  # Array, Struct
        count, at = _varint(data, at)
        items = []
        for _ in range(count):
            value, at = _item(data, at, depth + 1)
            items.append(value)
        return items, at
    if kind == 0x48:  # Map
        count, at = _varint(data, at)
        mapping: dict[Any, Any] = {}
        for _ in range(count):
            key, at = _item(data, at, depth + 1)
            value, at = _item(data, at, depth + 1)
            mapping[key] = value
        return mapping, at
    raise IndexError(f"unknown stack item type {kind:#x}")
