"""NeoVM scripts made only of contract calls: read them into calls, or write calls as a script.

``contract_calls`` reads a script the way neo-mamba's ``ScriptBuilder.emit_contract_call_with_args``
writes one, per call: the arguments pushed in reverse order (integers, byte strings, booleans, null,
arrays by ``PACK``/``NEWARRAY0``, maps by ``PACKMAP``), their count and ``PACK``, the call flags, the
method name, the contract hash, then ``SYSCALL System.Contract.Call``. Any other instruction (another
syscall, a jump, a call, arithmetic...), an argument that is a previous call's result, a value pushed
and never used, or a truncated instruction is refused: what the enclave reads is all the script does.

Also the byte helpers the transaction codec (``neo_tx``) shares: ``Reader``, ``var_int``,
``var_bytes``, ``push_data``, ``syscall``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from neo_service_layer.enclave.wire.keys import InvalidKeyRequest


class MalformedTransaction(InvalidKeyRequest):
    """The bytes are not a transaction or script the enclave accepts (wire code ``invalid_argument``)."""


def interop(name: str) -> bytes:
    """The 4-byte id ``SYSCALL`` takes: the first bytes of SHA-256 of the interop's name."""
    return hashlib.sha256(name.encode()).digest()[:4]


CONTRACT_CALL: Final = interop("System.Contract.Call")
CHECK_SIG: Final = interop("System.Crypto.CheckSig")
CALL_FLAGS_ALL: Final = 0x0F
MAX_ARRAY: Final = 1024

_PUSHINT = {0x00: 1, 0x01: 2, 0x02: 4, 0x03: 8, 0x04: 16, 0x05: 32}
_PUSHT, _PUSHF, _PUSHNULL = 0x08, 0x09, 0x0B
_PUSHDATA = {0x0C: 1, 0x0D: 2, 0x0E: 4}
_PUSHM1, _PUSH0, _PUSH16 = 0x0F, 0x10, 0x20
_SYSCALL, _PACKMAP, _PACK, _NEWARRAY0 = 0x41, 0xBE, 0xC0, 0xC2

#: an argument value: int, bytes, bool, None, an array (tuple) or a map (``Map``)
type Value = int | bytes | bool | tuple[Value, ...] | Map | None


@dataclass(frozen=True, slots=True)
class Map:
    """A NeoVM map argument, as its (key, value) pairs in script order."""

    items: tuple[tuple[Value, Value], ...]


@dataclass(frozen=True, slots=True)
class ContractCall:
    """One ``System.Contract.Call``: ``contract`` is the 20-byte ``UInt160`` as the script pushes it."""

    contract: bytes
    method: str
    call_flags: int
    args: tuple[Value, ...]

    @property
    def contract_text(self) -> str:
        """``0x`` + the big-endian hex, as nodes and the host name contracts."""
        return "0x" + self.contract[::-1].hex()


class _Result:
    """What a call leaves on the stack; never usable as an argument."""


_RESULT = _Result()


class Reader:
    """Little-endian reads over bytes; a short read raises ``MalformedTransaction``."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.offset = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.offset + n > len(self.data):
            raise MalformedTransaction("unexpected end of data")
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack("<Q", self.take(8))[0]
        return value

    def i64(self) -> int:
        value: int = struct.unpack("<q", self.take(8))[0]
        return value

    def var_int(self, maximum: int) -> int:
        first = self.u8()
        if first == 0xFD:
            value: int = struct.unpack("<H", self.take(2))[0]
        elif first == 0xFE:
            value = self.u32()
        elif first == 0xFF:
            value = self.u64()
        else:
            value = first
        if value > maximum:
            raise MalformedTransaction(f"a length or count is above {maximum}")
        return value

    def var_bytes(self, maximum: int) -> bytes:
        return self.take(self.var_int(maximum))

    def end(self) -> None:
        if self.offset != len(self.data):
            raise MalformedTransaction("unexpected bytes after the end")


def var_int(value: int) -> bytes:
    if value < 0xFD:
        return bytes([value])
    if value <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", value)
    if value <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", value)
    return b"\xff" + struct.pack("<Q", value)


def var_bytes(data: bytes) -> bytes:
    return var_int(len(data)) + data


def push_data(data: bytes) -> bytes:
    """``PUSHDATA1/2/4`` of ``data``."""
    if len(data) < 0x100:
        return bytes([0x0C, len(data)]) + data
    if len(data) < 0x10000:
        return b"\x0d" + struct.pack("<H", len(data)) + data
    return b"\x0e" + struct.pack("<I", len(data)) + data


def syscall(interop_id: bytes) -> bytes:
    return bytes([_SYSCALL]) + interop_id


# reading -------------------------------------------------------------------------------------------


def contract_calls(script: bytes) -> list[ContractCall]:
    """The contract calls ``script`` makes, in order; ``MalformedTransaction`` for anything else."""
    reader = Reader(script)
    stack: list[Value | _Result] = []
    calls: list[ContractCall] = []
    while reader.offset < len(script):
        op = reader.u8()
        if op in _PUSHINT:
            stack.append(int.from_bytes(reader.take(_PUSHINT[op]), "little", signed=True))
        elif op in (_PUSHT, _PUSHF):
            stack.append(op == _PUSHT)
        elif op == _PUSHNULL:
            stack.append(None)
        elif op in _PUSHDATA:
            size = int.from_bytes(reader.take(_PUSHDATA[op]), "little")
            stack.append(reader.take(size))
        elif _PUSHM1 <= op <= _PUSH16:
            stack.append(op - _PUSH0)
        elif op == _NEWARRAY0:
            stack.append(())
        elif op == _PACK:
            stack.append(tuple(_pop(stack) for _ in range(_count(stack))))
        elif op == _PACKMAP:
            count = _count(stack)
            stack.append(Map(tuple((_pop(stack), _pop(stack)) for _ in range(count))))
        elif op == _SYSCALL:
            if reader.take(4) != CONTRACT_CALL:
                raise MalformedTransaction("the script makes a system call other than a contract call")
            calls.append(_call(stack))
            stack.append(_RESULT)
        else:
            raise MalformedTransaction(f"the script holds instruction 0x{op:02x}, not a contract call")
    if not calls:
        raise MalformedTransaction("the script calls no contract")
    if any(item is not _RESULT for item in stack):
        raise MalformedTransaction("the script pushes values no call uses")
    return calls


def _pop(stack: list[Value | _Result]) -> Value:
    if not stack:
        raise MalformedTransaction("the script pops from an empty stack")
    item = stack.pop()
    if isinstance(item, _Result):
        raise MalformedTransaction("the script passes a call's result on")
    return item


def _count(stack: list[Value | _Result]) -> int:
    count = _pop(stack)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_ARRAY:
        raise MalformedTransaction("malformed array size in the script")
    return count


def _call(stack: list[Value | _Result]) -> ContractCall:
    contract, method, flags, args = _pop(stack), _pop(stack), _pop(stack), _pop(stack)
    if not isinstance(contract, bytes) or len(contract) != 20:
        raise MalformedTransaction("a contract call needs a 20-byte contract hash")
    if not isinstance(method, bytes):
        raise MalformedTransaction("a contract call needs a method name")
    try:
        name = method.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedTransaction("a method name must be UTF-8") from None
    if not isinstance(flags, int) or isinstance(flags, bool) or not 0 <= flags <= CALL_FLAGS_ALL:
        raise MalformedTransaction("malformed call flags")
    if not isinstance(args, tuple):
        raise MalformedTransaction("a contract call's arguments must be an array")
    return ContractCall(contract, name, flags, args)


# writing -------------------------------------------------------------------------------------------


def call_script(calls: Sequence[ContractCall]) -> bytes:
    """The script making ``calls`` in order, byte for byte what neo-mamba's ``ScriptBuilder`` emits."""
    out = bytearray()
    for call in calls:
        out += _push(call.args) if call.args else bytes([_NEWARRAY0])
        out += _push(call.call_flags) + _push(call.method.encode()) + _push(call.contract)
        out += syscall(CONTRACT_CALL)
    return bytes(out)


def _push(value: Value) -> bytes:
    if value is None:
        return bytes([_PUSHNULL])
    if isinstance(value, bool):
        return bytes([_PUSHT if value else _PUSHF])
    if isinstance(value, int):
        return _push_int(value)
    if isinstance(value, bytes):
        return push_data(value)
    if isinstance(value, Map):
        body = b"".join(_push(v) + _push(k) for k, v in reversed(value.items))
        return body + _push_int(len(value.items)) + bytes([_PACKMAP])
    return b"".join(_push(item) for item in reversed(value)) + _push_int(len(value)) + bytes([_PACK])


def _push_int(value: int) -> bytes:
    if -1 <= value <= 16:
        return bytes([_PUSH0 + value])
    magnitude = value if value >= 0 else ~value
    size = (magnitude.bit_length() + 8) // 8  # two's complement, with room for the sign bit
    for op, width in _PUSHINT.items():
        if size <= width:
            return bytes([op]) + value.to_bytes(width, "little", signed=True)
    raise MalformedTransaction("an integer argument is above 256 bits")
