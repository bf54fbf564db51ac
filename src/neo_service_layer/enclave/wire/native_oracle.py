"""Neo's native Oracle protocol, as both the host and the enclave need it: standard library only.

Mirrors the Neo N3 protocol as implemented by neo-go (``pkg/core/native/oracle.go``,
``pkg/core/state/oracle.go``, ``pkg/core/transaction/oracle.go``, ``pkg/services/oracle``) and the C# node:

- a request is stored by the native contract under key ``0x07 || u64be(id)`` as the binary
  serialisation of the array ``[OriginalTxid, GasForResponse, Url, Filter, CallbackContract,
  CallbackMethod, UserData]`` (Filter may be null), and deleted when a response is persisted;
- the response is a transaction with an ``OracleResponse`` attribute ``{Id, Code, Result}``, the fixed
  script calling ``Oracle.finish``, signers ``[Oracle contract (scope None), oracle nodes' multisig
  (scope None)]`` and ``networkFee + systemFee == gasForResponse``;
- the oracle nodes' account is the default multisig over the keys designated for role 8: ``m = n -
  (n - 1) // 3`` signatures.

The enclave reads requests with ``parse_request`` and answers them (``enclave.native_oracle``); the
host's ``services.native_oracle.rules`` uses the same definitions.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Final

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import EnclaveOperationError
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


def multisig_order(nodes: Sequence[bytes]) -> list[bytes]:
    """Compressed keys in the order of a multisig verification script (ECPoint order: x, then y); the
    signatures of its witness follow the same order."""
    return sorted(nodes, key=lambda key: (key[1:], key[0]))


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


# The ``native_oracle_respond`` operation ---------------------------------------------------------

#: request ids one ``native_oracle_respond`` call answers
MAX_RESPONSE_BATCH: Final = 256


class NodeUnavailable(EnclaveOperationError):
    """The enclave's own Neo node did not answer (or is not configured); the message names no secret.
    The host sees the wire code ``chain_unavailable`` and retries later."""

    code = "chain_unavailable"


class Outcome(StrEnum):
    """What the enclave made of one request id."""

    #: this node's signature completes the response: the whole signed transaction
    SIGNED = "signed"
    #: several designated nodes: this node's signatures, for ``submitoracleresponse``
    SUBMISSION = "submission"
    #: not stored by the native contract (answered already, or its response was persisted and faulted)
    GONE = "gone"
    #: stored but never answerable (a malformed request, ``gasForResponse`` below the network fee)
    REFUSED = "refused"
    #: not answered in this call (its answer would not fit in one frame): ask again
    LATER = "later"


@dataclass(frozen=True, slots=True)
class NativeResponse:
    """The enclave's answer to one request id: the response it built, signed, from its own reads."""

    request_id: int
    outcome: Outcome
    detail: str = ""
    code: NeoResponseCode | None = None
    result: bytes = b""
    #: the transaction with this node's signature in the multisig witness, as ``sendrawtransaction``
    #: takes it (SIGNED: complete; SUBMISSION: completed by the host once the other nodes' signatures,
    #: verified against their designated keys, are gathered)
    raw: bytes = b""
    tx_hash: str = ""
    valid_until_block: int = 0
    system_fee: int = 0
    network_fee: int = 0
    #: the node key's signature of the transaction (``u32le(magic) || hash``)
    tx_signature: bytes = b""
    #: SUBMISSION: the node key's signature of ``submission_message``
    submission_signature: bytes = b""

    def to_wire(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "code": None if self.code is None else int(self.code),
            "result": b64encode(self.result),
            "raw": b64encode(self.raw),
            "tx_hash": self.tx_hash,
            "valid_until_block": self.valid_until_block,
            "system_fee": self.system_fee,
            "network_fee": self.network_fee,
            "tx_signature": b64encode(self.tx_signature),
            "submission_signature": b64encode(self.submission_signature),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> NativeResponse:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` on malformed input."""
        code = data["code"]
        return cls(
            request_id=int(data["request_id"]),
            outcome=Outcome(data["outcome"]),
            detail=str(data["detail"]),
            code=None if code is None else NeoResponseCode(int(code)),
            result=b64decode(data["result"]),
            raw=b64decode(data["raw"]),
            tx_hash=str(data["tx_hash"]),
            valid_until_block=int(data["valid_until_block"]),
            system_fee=int(data["system_fee"]),
            network_fee=int(data["network_fee"]),
            tx_signature=b64decode(data["tx_signature"]),
            submission_signature=b64decode(data["submission_signature"]),
        )


def submission_message(public_key: bytes, request_id: int, tx_signature: bytes) -> bytes:
    """What an oracle node signs when it hands its response signature to another node
    (``submitoracleresponse``): public key || request id (u64 LE) || transaction signature."""
    return public_key + request_id.to_bytes(8, "little") + tx_signature
