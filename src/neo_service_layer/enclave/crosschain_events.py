"""The message gateways' events, read by the enclave from a transaction it looked up itself.

EVM (``contracts/evm/MessageGateway.sol``): the logs of a successful receipt (``status`` 1), emitted by
the gateway's address, decoded from their ABI encoding here (strict bounds, no ABI library)::

    MessageSent(uint256 indexed nonce, address indexed sender, uint256 destChain, bytes receiver,
                bytes payload, uint256 gasLimit, uint256 fee)
    MessageExecuted(uint256 indexed srcChain, uint256 indexed nonce, bytes20 srcContract, bytes20 sender,
                    address indexed receiver, uint256 attempt, bool ok, bytes result)

N3 (``services/crosschain/contracts/message_gateway.py``): the notifications of the transaction's
Application execution, only when it HALTed, emitted by the gateway's script hash, with the same fields in
the same order (``MessageSent``: nonce, sender, destChain, receiver, payload, gasLimit, fee;
``MessageExecuted``: srcChain, nonce, srcContract, sender, receiver, attempt, ok, result).

Anything else (a reverted or FAULTed transaction, another emitter, a malformed event) yields nothing or
is refused (``PolicyDenied``): the enclave signs only what the registered gateway emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.neo_rpc import stack_value
from neo_service_layer.enclave.signing import keccak256
from neo_service_layer.enclave.wire.crosschain import ACCOUNT_BYTES
from neo_service_layer.enclave.wire.keys import PolicyDenied

SENT_TOPIC = keccak256(b"MessageSent(uint256,address,uint256,bytes,bytes,uint256,uint256)")
EXECUTED_TOPIC = keccak256(b"MessageExecuted(uint256,uint256,bytes20,bytes20,address,uint256,bool,bytes)")
_WORD = 32


@dataclass(frozen=True, slots=True)
class SentEvent:
    nonce: int
    sender: bytes
    dest_chain: int
    receiver: bytes
    payload: bytes
    gas_limit: int


@dataclass(frozen=True, slots=True)
class ExecutedEvent:
    src_chain: int
    nonce: int
    src_contract: bytes
    sender: bytes
    receiver: bytes
    attempt: int
    ok: bool
    result: bytes


def _hex(text: object) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise PolicyDenied("the EVM node's receipt holds a malformed value")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise PolicyDenied("the EVM node's receipt holds a malformed value") from None


class _Abi:
    """Bounds-checked reads of an ABI-encoded event data section."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def word(self, index: int) -> bytes:
        start = index * _WORD
        if start + _WORD > len(self._data):
            raise PolicyDenied("a gateway event's data is too short")
        return self._data[start : start + _WORD]

    def uint(self, index: int) -> int:
        return int.from_bytes(self.word(index), "big")

    def bytes_at(self, index: int) -> bytes:
        offset = self.uint(index)
        if offset % _WORD or offset + _WORD > len(self._data):
            raise PolicyDenied("a gateway event's data has a bad offset")
        length = int.from_bytes(self._data[offset : offset + _WORD], "big")
        end = offset + _WORD + length
        if end > len(self._data):
            raise PolicyDenied("a gateway event's data has a bad length")
        return self._data[offset + _WORD : end]


def _evm_logs(receipt: dict[str, Any], gateway: bytes, topic: bytes) -> list[tuple[list[bytes], bytes]]:
    """(topics, data) of the gateway's logs with ``topic`` in a successful receipt."""
    if int(str(receipt.get("status", "0x0")), 16) != 1:
        raise PolicyDenied("the source transaction reverted")
    found = []
    for log in receipt.get("logs") or []:
        if not isinstance(log, dict) or log.get("removed"):
            continue
        if _hex(log.get("address")) != gateway:
            continue
        topics = [_hex(t) for t in log.get("topics") or []]
        if topics and topics[0] == topic:
            found.append((topics, _hex(log.get("data", "0x"))))
    return found


def evm_sent(receipt: dict[str, Any], gateway: bytes) -> list[SentEvent]:
    events = []
    for topics, data in _evm_logs(receipt, gateway, SENT_TOPIC):
        if len(topics) != 3:
            raise PolicyDenied("a MessageSent log has the wrong topics")
        abi = _Abi(data)
        events.append(
            SentEvent(
                nonce=int.from_bytes(topics[1], "big"),
                sender=topics[2][-ACCOUNT_BYTES:],
                dest_chain=abi.uint(0),
                receiver=abi.bytes_at(1),
                payload=abi.bytes_at(2),
                gas_limit=abi.uint(3),
            )
        )
    return events


def evm_executed(receipt: dict[str, Any], gateway: bytes) -> list[ExecutedEvent]:
    events = []
    for topics, data in _evm_logs(receipt, gateway, EXECUTED_TOPIC):
        if len(topics) != 4:
            raise PolicyDenied("a MessageExecuted log has the wrong topics")
        abi = _Abi(data)
        events.append(
            ExecutedEvent(
                src_chain=int.from_bytes(topics[1], "big"),
                nonce=int.from_bytes(topics[2], "big"),
                src_contract=abi.word(0)[:ACCOUNT_BYTES],
                sender=abi.word(1)[:ACCOUNT_BYTES],
                receiver=topics[3][-ACCOUNT_BYTES:],
                attempt=abi.uint(2),
                ok=abi.uint(3) == 1,
                result=abi.bytes_at(4),
            )
        )
    return events


def _n3_states(log: dict[str, Any], gateway: bytes, name: str, fields: int) -> list[list[Any]]:
    """The states of the gateway's ``name`` notifications in a HALTed Application execution."""
    executions = [e for e in log.get("executions") or [] if isinstance(e, dict)]
    applications = [e for e in executions if e.get("trigger") == "Application"]
    if len(applications) != 1:
        raise PolicyDenied("the source transaction has no Application execution")
    execution = applications[0]
    if execution.get("vmstate") != "HALT":
        raise PolicyDenied("the source transaction FAULTed")
    gateway_text = "0x" + gateway[::-1].hex()
    states = []
    for note in execution.get("notifications") or []:
        if not isinstance(note, dict) or note.get("eventname") != name:
            continue
        if str(note.get("contract", "")).lower() != gateway_text:
            continue
        state = note.get("state")
        value = stack_value(state) if isinstance(state, dict) else None
        if not isinstance(value, list) or len(value) != fields:
            raise PolicyDenied(f"a {name} notification has the wrong fields")
        states.append(value)
    return states


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, bytes) and len(value) <= _WORD:  # a small integer pushed as bytes
            return int.from_bytes(value, "little", signed=True)
        raise PolicyDenied("a gateway notification holds a malformed integer")
    return value


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    raise PolicyDenied("a gateway notification holds a malformed byte string")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return _int(value) != 0


def n3_sent(log: dict[str, Any], gateway: bytes) -> list[SentEvent]:
    return [
        SentEvent(
            nonce=_int(s[0]),
            sender=_bytes(s[1]),
            dest_chain=_int(s[2]),
            receiver=_bytes(s[3]),
            payload=_bytes(s[4]),
            gas_limit=_int(s[5]),
        )
        for s in _n3_states(log, gateway, "MessageSent", 7)
    ]


def n3_executed(log: dict[str, Any], gateway: bytes) -> list[ExecutedEvent]:
    return [
        ExecutedEvent(
            src_chain=_int(s[0]),
            nonce=_int(s[1]),
            src_contract=_bytes(s[2]),
            sender=_bytes(s[3]),
            receiver=_bytes(s[4]),
            attempt=_int(s[5]),
            ok=_bool(s[6]),
            result=_bytes(s[7]),
        )
        for s in _n3_states(log, gateway, "MessageExecuted", 8)
    ]
