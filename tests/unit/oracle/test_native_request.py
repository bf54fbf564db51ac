"""Neo's native Oracle rules (``domain.native_oracle``): the stored ``OracleRequest``, keys, threshold, codes.

Test vectors are encoded here, independently of the code under test: the stack item framing (type byte,
var-int counts and lengths) follows NeoVM's ``BinarySerializer`` and uses neo-mamba's ``BinaryWriter``
for var-ints and its ``BigInteger`` for integer bytes (neo-mamba has a deserialiser but no serialiser);
every vector is checked against neo-mamba's ``binary_deserialize`` first, and one is spelled out byte by
byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import pytest
from neo3.api.helpers.stdlib import binary_deserialize
from neo3.core import serialization, types

from neo_service_layer.enclave.wire.oracle import ResultCode
from neo_service_layer.services.native_oracle.rules import (
    MalformedRequest,
    NativeRequest,
    NeoResponseCode,
    multisig_threshold,
    neo_code,
    parse_request,
    request_key,
)

# A tiny BinarySerializer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Struct:
    items: list[Any]


@dataclass(frozen=True)
class Buffer:
    data: bytes


def var_int(value: int) -> bytes:
    with serialization.BinaryWriter() as writer:
        writer.write_var_int(value)
        return bytes(writer.to_array())


def var_bytes(value: bytes) -> bytes:
    with serialization.BinaryWriter() as writer:
        writer.write_var_bytes(value)
        return bytes(writer.to_array())


def integer_bytes(value: int) -> bytes:
    """NeoVM's ``Integer`` memory: empty for zero, else minimal two's complement, little-endian."""
    return b"" if value == 0 else bytes(types.BigInteger(value).to_array())


def encode(item: Any) -> bytes:
    if item is None:
        return b"\x00"
    if isinstance(item, bool):
        return b"\x20" + (b"\x01" if item else b"\x00")
    if isinstance(item, int):
        return b"\x21" + var_bytes(integer_bytes(item))
    if isinstance(item, str):
        item = item.encode()
    if isinstance(item, bytes):
        return b"\x28" + var_bytes(item)
    if isinstance(item, Buffer):
        return b"\x30" + var_bytes(item.data)
    if isinstance(item, list):
        return b"\x40" + var_int(len(item)) + b"".join(encode(i) for i in item)
    if isinstance(item, Struct):
        return b"\x41" + var_int(len(item.items)) + b"".join(encode(i) for i in item.items)
    if isinstance(item, dict):
        return b"\x48" + var_int(len(item)) + b"".join(encode(k) + encode(v) for k, v in item.items())
    raise TypeError(item)


TXID = bytes(range(32))  # as stored: UInt256 bytes, little-endian
CONTRACT = bytes(range(100, 120))  # UInt160 bytes, little-endian
USER_DATA = b"\x28\x05hello"  # StdLib.serialize("hello"): the user's object, serialised


def fields(**changes: Any) -> list[Any]:
    values = {
        "txid": TXID,
        "gas": 10_000_000,
        "url": "https://api.example.com/price?pair=NEO-USD",
        "filter": "$.price",
        "contract": CONTRACT,
        "method": "onOracleResponse",
        "user_data": USER_DATA,
    }
    values.update(changes)
    return list(values.values())


def expected(**changes: Any) -> NativeRequest:
    values: dict[str, Any] = {
        "original_tx": "0x" + TXID[::-1].hex(),
        "gas_for_response": 10_000_000,
        "url": "https://api.example.com/price?pair=NEO-USD",
        "filter": "$.price",
        "callback_contract": "0x" + CONTRACT[::-1].hex(),
        "callback_method": "onOracleResponse",
        "user_data": USER_DATA,
    }
    values.update(changes)
    return NativeRequest(**values)


def test_the_encoder_agrees_with_neo_mamba() -> None:
    item = fields(filter=None, gas=2**63)
    decoded = binary_deserialize(encode(item))
    assert decoded == [v.encode() if isinstance(v, str) else v for v in item]
    assert binary_deserialize(encode(Struct([1, -1, 128, b"x" * 300]))) == [1, -1, 128, b"x" * 300]
    assert integer_bytes(128) == b"\x80\x00"  # a sign byte keeps it positive
    assert integer_bytes(-1) == b"\xff"
    assert var_int(0xFC) == b"\xfc"
    assert var_int(0xFD) == b"\xfd\xfd\x00"
    assert var_int(0x1_0000) == b"\xfe\x00\x00\x01\x00"


def test_a_request_spelled_out_byte_by_byte() -> None:
    url, method = b"https://a.example/x", b"cb"
    data = (
        b"\x40\x07"  # Array of 7
        + b"\x28\x20" + TXID  # ByteString(32)
        + b"\x21\x04\x80\x96\x98\x00"  # Integer 10_000_000 = 0x989680, sign byte added
        + b"\x28" + bytes([len(url)]) + url
        + b"\x00"  # Null filter
        + b"\x28\x14" + CONTRACT  # ByteString(20)
        + b"\x28\x02" + method
        + b"\x28\x00"  # empty user data
    )  # fmt: skip
    assert data == encode(fields(url=url, filter=None, method=method, user_data=b""))
    assert parse_request(data) == NativeRequest(
        original_tx="0x1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100",
        gas_for_response=10_000_000,
        url="https://a.example/x",
        filter=None,
        callback_contract="0x" + "77767574737271706f6e6d6c6b6a696867666564",
        callback_method="cb",
        user_data=b"",
    )


def test_a_normal_request() -> None:
    assert parse_request(encode(fields())) == expected()


def test_a_struct_and_buffers_parse_like_an_array_of_byte_strings() -> None:
    item = Struct(fields(txid=Buffer(TXID), url=Buffer(b"https://b.example"), user_data=Buffer(b"\x00")))
    assert parse_request(encode(item)) == expected(url="https://b.example", user_data=b"\x00")


def test_a_null_filter_is_none_and_an_empty_one_is_empty() -> None:
    assert parse_request(encode(fields(filter=None))).filter is None
    assert parse_request(encode(fields(filter=""))).filter == ""


@pytest.mark.parametrize(
    "gas",
    [0, 1, 127, 128, 255, 256, 10_000_000, 2**31, 2**32 + 5, 2**63 - 1, 2**63, 2**64 - 1],
)
def test_gas_for_response_of_every_width(gas: int) -> None:
    """GasForResponse is written as a uint64 (never negative): the top bit set needs a ninth byte."""
    data = encode(fields(gas=gas))
    assert parse_request(data).gas_for_response == gas


def test_integer_width_on_the_wire() -> None:
    assert b"\x21\x00" in encode(fields(gas=0))  # zero is empty
    assert b"\x21\x09" + b"\x00" * 7 + b"\x80\x00" in encode(fields(gas=2**63))


def test_var_int_lengths_of_three_bytes() -> None:
    """A URL of 256 bytes and user data of 512 bytes (the native limits) have ``0xFD`` lengths."""
    url = "https://example.com/" + "a" * 236
    user_data = bytes(range(256)) * 2
    data = encode(fields(url=url, user_data=user_data))
    assert b"\x28\xfd\x00\x01https://" in data
    assert b"\x28\xfd\x00\x02" in data
    assert parse_request(data) == expected(url=url, user_data=user_data)


@pytest.mark.parametrize(
    "prefix",
    [b"\xfd\x05\x00", b"\xfe\x05\x00\x00\x00", b"\xff\x05\x00\x00\x00\x00\x00\x00\x00"],
    ids=["fd", "fe", "ff"],
)
def test_every_var_int_form_is_read(prefix: bytes) -> None:
    data = encode(fields(method="hello"))
    wide = data.replace(b"\x28\x05hello", b"\x28" + prefix + b"hello", 1)
    assert wide != data
    assert parse_request(wide).callback_method == "hello"
    count = b"\x40" + prefix.replace(b"\x05", b"\x07", 1)  # the array count too
    assert parse_request(count + wide[2:]).callback_method == "hello"


def test_extra_items_after_the_seventh_are_ignored() -> None:
    """As neo-go (``len(arr) < 7`` is the only length check)."""
    assert parse_request(encode([*fields(), 42, None])) == expected()


def test_every_truncation_is_malformed() -> None:
    data = encode(fields(url="https://example.com/" + "b" * 300))
    for end in range(len(data)):
        with pytest.raises(MalformedRequest):
            parse_request(data[:end])


@pytest.mark.parametrize("trailer", [b"\x00", b"\x28\x00", b"\xff"])
def test_trailing_bytes_are_malformed(trailer: bytes) -> None:
    with pytest.raises(MalformedRequest, match="not an array of 7 items"):
        parse_request(encode(fields()) + trailer)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (fields()[:6], "not an array of 7 items"),
        ([], "not an array of 7 items"),
        (b"\x00" * 7, "not an array of 7 items"),
        ({b"a": 1}, "not an array of 7 items"),
        (None, "not an array of 7 items"),
        (fields(txid=TXID[:31]), "bad transaction id or GAS"),
        (fields(txid=None), "bad transaction id or GAS"),
        (fields(txid=int.from_bytes(TXID, "little")), "bad transaction id or GAS"),
        (fields(gas=b"\x80\x96\x98\x00"), "bad transaction id or GAS"),
        (fields(gas=None), "bad transaction id or GAS"),
        (fields(contract=CONTRACT + b"\x00"), "bad callback contract or user data"),
        (fields(contract=None), "bad callback contract or user data"),
        (fields(user_data=None), "bad callback contract or user data"),
        (fields(user_data=[b"x"]), "bad callback contract or user data"),
        (fields(url=None), "bad URL, filter or method"),
        (fields(url=1), "bad URL, filter or method"),
        (fields(filter=5), "bad URL, filter or method"),
        (fields(filter=[]), "bad URL, filter or method"),
        (fields(method=None), "bad URL, filter or method"),
        (fields(url=b"https://\xff"), "not UTF-8"),
        (fields(filter=b"$.\xc3"), "not UTF-8"),
        (fields(method=b"\xed\xa0\x80"), "not UTF-8"),  # a UTF-16 surrogate
    ],
)
def test_wrong_shapes_and_types_are_malformed(item: Any, message: str) -> None:
    with pytest.raises(MalformedRequest, match=message):
        parse_request(encode(item))


@pytest.mark.parametrize("kind", [0x10, 0x22, 0x29, 0x42, 0x49, 0xFF])
def test_an_unknown_stack_item_type_is_malformed(kind: int) -> None:
    data = bytearray(encode(fields(filter=None)))
    data[data.index(b"\x00", 2 + 34 + 6)] = kind  # the Null filter's type byte
    with pytest.raises(MalformedRequest, match="unknown stack item type"):
        parse_request(bytes(data))


def test_a_map_key_that_is_not_a_primitive_is_malformed() -> None:
    """Not a ``TypeError`` from Python's dict: NeoVM map keys are primitive types."""
    with pytest.raises(MalformedRequest):
        parse_request(encode({b"k": 1}).replace(b"\x28\x01k", b"\x40\x00", 1))
    with pytest.raises(MalformedRequest):
        parse_request(encode(fields(filter={b"k": 1})).replace(b"\x28\x01k", b"\x48\x00", 1))


def nested(depth: int) -> Any:
    item: Any = b"leaf"
    for _ in range(depth):
        item = [item]
    return item


def test_nesting_beyond_the_limit_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="nested too deeply"):
        parse_request(encode(fields(user_data=nested(16))))  # 17 levels below the top
    with pytest.raises(MalformedRequest, match="nested too deeply"):
        parse_request(b"\x40\x01" * 10_000 + b"\x00")
    # at the limit the item is read, and rejected only for its shape
    with pytest.raises(MalformedRequest, match="bad callback contract or user data"):
        parse_request(encode(fields(user_data=nested(15))))


def test_empty_input_is_malformed() -> None:
    with pytest.raises(MalformedRequest):
        parse_request(b"")


# Keys, threshold, codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_id", "key"),
    [
        (0, "070000000000000000"),
        (1, "070000000000000001"),
        (0x0102030405060708, "070102030405060708"),
        (2**64 - 1, "07ffffffffffffffff"),
    ],
)
def test_request_key_is_prefix_7_and_the_id_big_endian(request_id: int, key: str) -> None:
    assert request_key(request_id).hex() == key


@pytest.mark.parametrize("request_id", [-1, 2**64])
def test_request_key_refuses_ids_outside_uint64(request_id: int) -> None:
    with pytest.raises(struct.error):
        request_key(request_id)


@pytest.mark.parametrize(("nodes", "m"), [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (6, 5), (7, 5), (21, 15)])
def test_multisig_threshold_examples(nodes: int, m: int) -> None:
    assert multisig_threshold(nodes) == m


def test_multisig_threshold_tolerates_a_third_faulty() -> None:
    for n in range(1, 1025):
        m = multisig_threshold(n)
        faulty = (n - 1) // 3
        assert m == n - faulty
        assert m == 2 * n // 3 + 1  # the smallest m above two thirds of n
        assert 3 * m > 2 * n >= 3 * (m - 1)


@pytest.mark.parametrize("nodes", [0, -1])
def test_multisig_threshold_needs_a_node(nodes: int) -> None:
    with pytest.raises(ValueError, match="no oracle nodes"):
        multisig_threshold(nodes)


def test_neo_codes_are_neos() -> None:
    """``OracleResponseCode`` values of Neo N3."""
    assert {c.name: c.value for c in NeoResponseCode} == {
        "SUCCESS": 0x00,
        "PROTOCOL_NOT_SUPPORTED": 0x10,
        "CONSENSUS_UNREACHABLE": 0x12,
        "NOT_FOUND": 0x14,
        "TIMEOUT": 0x16,
        "FORBIDDEN": 0x18,
        "RESPONSE_TOO_LARGE": 0x1A,
        "INSUFFICIENT_FUNDS": 0x1C,
        "CONTENT_TYPE_NOT_SUPPORTED": 0x1F,
        "ERROR": 0xFF,
    }


@pytest.mark.parametrize(
    ("code", "neo"),
    [
        (ResultCode.SUCCESS, NeoResponseCode.SUCCESS),
        (ResultCode.NOT_FOUND, NeoResponseCode.NOT_FOUND),
        (ResultCode.TIMEOUT, NeoResponseCode.TIMEOUT),
        (ResultCode.FORBIDDEN, NeoResponseCode.FORBIDDEN),
        (ResultCode.TOO_LARGE, NeoResponseCode.RESPONSE_TOO_LARGE),
        (ResultCode.BAD_FILTER, NeoResponseCode.ERROR),
        (ResultCode.UNSUPPORTED_CONTENT_TYPE, NeoResponseCode.CONTENT_TYPE_NOT_SUPPORTED),
        (ResultCode.UPSTREAM_ERROR, NeoResponseCode.ERROR),
    ],
)
def test_neo_code_of_each_result_code(code: ResultCode, neo: NeoResponseCode) -> None:
    assert neo_code(code) is neo


def test_every_result_code_has_a_neo_code() -> None:
    assert {neo_code(c) for c in ResultCode} <= set(NeoResponseCode)
    assert neo_code(0x42) is NeoResponseCode.ERROR  # type: ignore[arg-type]  # anything unknown is Error
