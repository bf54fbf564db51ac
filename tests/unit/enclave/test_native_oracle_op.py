"""The ``native_oracle_respond`` op: the enclave reads the request from its own node (a fake that records
every call), fetches the URL itself (a TLS server on 127.0.0.1), and builds and signs exactly the
response the native Oracle accepts; the host chooses only which ids and the ``validUntilBlock`` window.

Transactions are read back with neo-mamba (independent of the enclave's codec), signatures checked with
``cryptography``."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from loopback_http import LoopbackServer, json_route, make_certificates, raw_route
from loopback_http import TestCertificates as Certificates
from neo3 import vm
from neo3.contracts import utils as contract_utils
from neo3.core import cryptography as neo_crypto
from neo3.core import types
from neo3.core import utils as core_utils
from neo3.network.payloads import transaction

from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.native_oracle import NativeOracleRespondOp, nodes_account
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.native_oracle import (
    ORACLE_CONTRACT,
    POLICY_CONTRACT,
    ROLE_MANAGEMENT,
    NativeResponse,
    NeoResponseCode,
    Outcome,
    request_key,
    submission_message,
)
from neo_service_layer.enclave.wire.protocol import Args

MAGIC = 860833102
INCREMENT = 5760
HEIGHT = 1000
GAS = 100_000_000
PER_BYTE = 1000
VERIFY = 1_000_000  # the fake node's verification GAS
REQUEST_TX = bytes(range(32))
_X962, _COMPRESSED = Encoding.X962, PublicFormat.CompressedPoint


def _integer(value: int) -> bytes:
    data = b"" if value == 0 else value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x21" + bytes([len(data)]) + data


def _bytes(value: bytes) -> bytes:
    assert len(value) < 0xFD
    return b"\x28" + bytes([len(value)]) + value


def stored(url: str, filter_: str | None, gas: int = GAS) -> bytes:
    """The native contract's serialisation of a request (BinarySerializer, array of 7 items)."""
    items = [
        _bytes(REQUEST_TX),
        _integer(gas),
        _bytes(url.encode()),
        b"\x00" if filter_ is None else _bytes(filter_.encode()),
        _bytes(bytes(range(100, 120))),
        _bytes(b"onOracleResponse"),
        _bytes(b"\x28\x00"),
    ]
    return b"\x40\x07" + b"".join(items)


class FakeNode:
    """The enclave's ``NeoReader``: chain facts in fields; every call recorded."""

    def __init__(self, nodes: Sequence[bytes]) -> None:
        self.nodes = list(nodes)
        self.requests: dict[int, bytes] = {}
        self.tx_height: int | None = 900
        self.calls: list[tuple[Any, ...]] = []

    async def version(self) -> tuple[int, int]:
        self.calls.append(("getversion",))
        return MAGIC, INCREMENT

    async def height(self) -> int:
        self.calls.append(("getblockcount",))
        return HEIGHT

    async def storage(self, contract: str, key: bytes) -> bytes | None:
        self.calls.append(("getstorage", contract, key))
        assert contract == ORACLE_CONTRACT
        return self.requests.get(int.from_bytes(key[1:], "big")) if key[0] == 7 else None

    async def storage_many(self, contract: str, keys: Sequence[bytes]) -> list[bytes | None]:
        return [await self.storage(contract, key) for key in keys]

    async def invoke(self, contract: str, method: str, args: Sequence[int]) -> list[Any]:
        self.calls.append(("invokefunction", contract, method, tuple(args)))
        if (contract, method) == (ROLE_MANAGEMENT, "getDesignatedByRole"):
            return [list(self.nodes)]
        assert (contract, method) == (POLICY_CONTRACT, "getFeePerByte")
        return [PER_BYTE]

    async def network_fee(self, raw_tx: bytes) -> int:
        self.calls.append(("calculatenetworkfee", raw_tx))
        return VERIFY + len(raw_tx) * PER_BYTE

    async def transaction_height(self, tx_hash: str) -> int | None:
        self.calls.append(("gettransactionheight", tx_hash))
        return self.tx_height


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path, "oracle.test")


@pytest.fixture
async def web(certs: Certificates) -> AsyncIterator[LoopbackServer]:
    routes = {
        "/ticker": json_route({"price": 42.17, "volume": 3}),
        "/gone": raw_route(b"", None, status=404),
        "/big": raw_route(b"7" * 5000, "text/plain"),
        "/huge": raw_route(b"8" * 50_000, "text/plain"),
    }
    async with LoopbackServer(routes, tls=certs.server_context()) as server:
        yield server


@pytest.fixture
def node_key(keystore: KeyStore) -> str:
    policy = KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NATIVE_ORACLE])
    return keystore.create(KeyKind.SECP256R1, policy).info.key_id


class World:
    def __init__(self, keystore: KeyStore, key_id: str, certs: Certificates, web: LoopbackServer) -> None:
        self.public_key = keystore.info(key_id).public_key
        self.key_id = key_id
        self.web = web
        self.node = FakeNode([self.public_key])
        fetcher = Fetcher(GuardPolicy.of(["127.0.0.1"]), ssl_context=certs.client_context())
        self.op = NativeOracleRespondOp(keystore, fetcher, self.node)

    def ask(self, request_id: int, path: str, filter_: str | None = "$.price", gas: int = GAS) -> None:
        self.node.requests[request_id] = stored(self.web.url(path), filter_, gas)

    async def respond(self, *ids: int, **changes: Any) -> list[NativeResponse]:
        args: dict[str, Any] = {
            "key_id": self.key_id,
            "magic": MAGIC,
            "request_ids": list(ids),
            "valid_until_blocks": 10,
        }
        args.update(changes)
        result = await self.op(Args(args))
        assert base64.b64decode(result["public_key"]) == self.public_key
        return [NativeResponse.from_wire(r) for r in result["responses"]]


@pytest.fixture
def world(keystore: KeyStore, node_key: str, certs: Certificates, web: LoopbackServer) -> World:
    return World(keystore, node_key, certs, web)


def mamba_script() -> bytes:
    contract = types.UInt160.from_string(ORACLE_CONTRACT[2:])
    script: bytes = vm.ScriptBuilder().emit_contract_call(contract, "finish").to_array()  # type: ignore[no-untyped-call]
    return script


def mamba_account(nodes: Sequence[bytes]) -> tuple[bytes, types.UInt160]:
    points = [neo_crypto.ECPoint.deserialize_from_bytes(k) for k in nodes]
    threshold = len(points) - (len(points) - 1) // 3
    script: bytes = contract_utils.create_multisig_redeemscript(threshold, points)
    return script, core_utils.to_script_hash(script)


def verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Raises ``InvalidSignature`` unless ``signature`` (r||s) signs SHA-256 of ``message``."""
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
    key.verify(der, message, ec.ECDSA(hashes.SHA256()))


async def test_the_response_is_built_from_the_enclaves_own_read_and_fetch(world: World) -> None:
    world.ask(7, "/ticker")
    (response,) = await world.respond(7)
    assert response.outcome is Outcome.SIGNED
    tx = transaction.Transaction.deserialize_from_bytes(response.raw)
    (attribute,) = tx.attributes
    assert isinstance(attribute, transaction.OracleResponse)
    assert (attribute.id, attribute.code, attribute.result) == (
        7,
        transaction.OracleResponseCode.SUCCESS,
        b"[42.17]",
    )
    assert (response.code, response.result) == (NeoResponseCode.SUCCESS, b"[42.17]")
    assert tx.script == mamba_script()
    multisig, account = mamba_account([world.public_key])
    assert [(s.account, int(s.scope)) for s in tx.signers] == [
        (types.UInt160.from_string(ORACLE_CONTRACT[2:]), 0),
        (account, 0),
    ]
    assert tx.nonce == 7
    assert tx.valid_until_block == HEIGHT + 1 + 10
    assert tx.system_fee + tx.network_fee == GAS
    assert "0x" + tx.hash().to_array()[::-1].hex() == response.tx_hash
    assert tx.witnesses[0].invocation_script == tx.witnesses[0].verification_script == b""
    assert tx.witnesses[1].verification_script == multisig
    signature = tx.witnesses[1].invocation_script[2:]
    assert signature == response.tx_signature
    verify(world.public_key, signature, MAGIC.to_bytes(4, "little") + tx.hash().to_array())
    # what it read, from its own node: the request under 0x07 || id, the designation as of the next block
    assert ("getstorage", ORACLE_CONTRACT, request_key(7)) in world.node.calls
    assert ("invokefunction", ROLE_MANAGEMENT, "getDesignatedByRole", (8, HEIGHT + 1)) in world.node.calls
    assert [s.target for s in world.web.seen] == ["/ticker"]


async def test_the_network_fee_is_the_nodes_estimate_for_this_size(world: World) -> None:
    world.ask(1, "/big", None)
    world.ask(2, "/ticker")
    big, small = await world.respond(1, 2)
    fee_calls = [c for c in world.node.calls if c[0] == "calculatenetworkfee"]
    assert len(fee_calls) == 1  # one estimate prices the whole call
    big_tx = transaction.Transaction.deserialize_from_bytes(big.raw)
    small_tx = transaction.Transaction.deserialize_from_bytes(small.raw)
    assert (
        big_tx.network_fee - small_tx.network_fee
        == (len(big_tx.to_array()) - len(small_tx.to_array())) * PER_BYTE
    )
    assert big.result == b"7" * 5000
    assert {big_tx.network_fee + big_tx.system_fee, small_tx.network_fee + small_tx.system_fee} == {GAS}


async def test_one_fetch_per_distinct_url_and_each_request_gets_its_own_filter(world: World) -> None:
    world.ask(1, "/ticker", "$.price")
    world.ask(2, "/ticker", "$.volume")
    world.ask(3, "/ticker", None)
    responses = await world.respond(1, 2, 3)
    assert [r.result for r in responses] == [b"[42.17]", b"[3]", b'{"price": 42.17, "volume": 3}']
    assert [s.target for s in world.web.seen] == ["/ticker"]


async def test_a_failed_fetch_is_neo_s_code_and_a_non_https_url_is_never_fetched(world: World) -> None:
    world.ask(1, "/gone")
    world.node.requests[2] = stored(world.web.url("/ticker").replace("https://", "http://"), None)
    world.node.requests[3] = stored("neofs:abc/def", None)
    gone, plain, neofs = await world.respond(1, 2, 3)
    assert (gone.code, gone.result) == (NeoResponseCode.NOT_FOUND, b"")
    assert (plain.code, plain.result) == (NeoResponseCode.PROTOCOL_NOT_SUPPORTED, b"")
    assert (neofs.code, neofs.result) == (NeoResponseCode.ERROR, b"")
    assert [s.target for s in world.web.seen] == ["/gone"]
    (attribute,) = transaction.Transaction.deserialize_from_bytes(plain.raw).attributes
    assert isinstance(attribute, transaction.OracleResponse)
    assert (attribute.id, attribute.code, attribute.result) == (
        2,
        transaction.OracleResponseCode.PROTOCOL_NOT_SUPPORTED,
        b"",
    )


async def test_an_id_the_contract_does_not_store_is_gone_and_nothing_is_fetched_or_signed(
    world: World,
) -> None:
    world.ask(1, "/ticker")
    (response,) = await world.respond(2)  # another id than the stored one
    assert response.outcome is Outcome.GONE
    assert (response.raw, response.tx_signature) == (b"", b"")
    assert world.web.seen == []


async def test_an_answer_too_large_for_one_frame_leaves_the_rest_for_later(world: World) -> None:
    for rid in range(6):
        world.ask(rid, "/huge", None)
    responses = await world.respond(*range(6))
    assert [r.outcome for r in responses] == [Outcome.SIGNED] * 5 + [Outcome.LATER]
    assert (responses[5].raw, responses[5].tx_signature) == (b"", b"")
    assert [s.target for s in world.web.seen] == ["/huge"]
    (again,) = await world.respond(5)
    assert again.outcome is Outcome.SIGNED


async def test_a_malformed_stored_request_is_refused(world: World) -> None:
    world.node.requests[1] = b"\x40\x01\x00"
    (response,) = await world.respond(1)
    assert response.outcome is Outcome.REFUSED
    assert "malformed" in response.detail


async def test_the_host_cannot_put_its_own_result_code_script_or_fees_into_the_response(world: World) -> None:
    """Whatever else the host sends is not read: the response carries what the enclave fetched."""
    world.ask(1, "/ticker")
    forged = {
        "result": base64.b64encode(b"[99999]").decode(),
        "code": 0x14,
        "script": base64.b64encode(b"\x40").decode(),
        "system_fee": 1,
        "network_fee": GAS,
        "transaction": base64.b64encode(b"forged").decode(),
    }
    (response,) = await world.respond(1, **forged)
    tx = transaction.Transaction.deserialize_from_bytes(response.raw)
    (attribute,) = tx.attributes
    assert isinstance(attribute, transaction.OracleResponse)
    assert (attribute.code, attribute.result) == (transaction.OracleResponseCode.SUCCESS, b"[42.17]")
    assert tx.script == mamba_script()
    assert tx.network_fee < GAS // 10


async def test_too_little_gas_for_the_network_fee_is_insufficient_funds_without_a_result(
    world: World,
) -> None:
    world.ask(1, "/big", None, gas=VERIFY + 5000 * PER_BYTE)  # covers the fee without the 5,000 bytes only
    (response,) = await world.respond(1)
    tx = transaction.Transaction.deserialize_from_bytes(response.raw)
    (attribute,) = tx.attributes
    assert isinstance(attribute, transaction.OracleResponse)
    assert (attribute.code, attribute.result) == (transaction.OracleResponseCode.INSUFFICIENT_FUNDS, b"")
    assert tx.system_fee + tx.network_fee == VERIFY + 5000 * PER_BYTE
    world.ask(2, "/ticker", gas=VERIFY)  # not even the empty response: refused, never sent
    (poor,) = await world.respond(2)
    assert poor.outcome is Outcome.REFUSED
    assert "does not cover" in poor.detail


async def test_another_network_a_long_window_or_an_undesignated_key_is_refused(world: World) -> None:
    world.ask(1, "/ticker")
    with pytest.raises(InvalidKeyRequest, match="network magic"):
        await world.respond(1, magic=MAGIC + 1)
    with pytest.raises(InvalidKeyRequest, match="valid_until_blocks"):
        await world.respond(1, valid_until_blocks=INCREMENT)
    with pytest.raises(InvalidKeyRequest, match="distinct"):
        await world.respond(1, 1)
    world.node.nodes = [b"\x02" + b"\x44" * 32]
    with pytest.raises(PolicyDenied, match="not designated"):
        await world.respond(1)
    assert world.web.seen == []


async def test_with_several_nodes_it_signs_the_transaction_every_node_builds_and_the_submission(
    world: World,
) -> None:
    others = [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(3)]
    world.node.nodes = [world.public_key] + [
        k.public_bytes(encoding=_X962, format=_COMPRESSED) for k in others
    ]
    world.ask(5, "/ticker")
    (response,) = await world.respond(5)
    assert response.outcome is Outcome.SUBMISSION
    tx = transaction.Transaction.deserialize_from_bytes(response.raw)  # the host completes its witness
    assert tx.hash().to_array() == bytes.fromhex(response.tx_hash.removeprefix("0x"))[::-1]
    assert tx.witnesses[1].invocation_script == b"\x0c\x40" + response.tx_signature
    assert response.valid_until_block == 900 + INCREMENT  # the request's block + the largest increment
    assert ("gettransactionheight", "0x" + REQUEST_TX[::-1].hex()) in world.node.calls
    message = submission_message(world.public_key, 5, response.tx_signature)
    verify(world.public_key, response.submission_signature, message)
    multisig, account = mamba_account(world.node.nodes)
    assert nodes_account(world.node.nodes) == (multisig, account.to_array())


async def test_with_several_nodes_an_expired_main_response_becomes_neo_gos_backup_response(
    world: World,
) -> None:
    """The main response is valid until the request's block + the largest increment; once that block is
    reached it can never be included, so the enclave signs neo-go's backup instead: code
    ``ConsensusUnreachable``, no result, nothing fetched, valid until the first request block + k
    increments above the height (what neo-go computes, so every node signs the same backup)."""
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    world.node.nodes = [world.public_key, other.public_bytes(encoding=_X962, format=_COMPRESSED)]
    head = 200 + INCREMENT + 10  # the request was in block 200: its main response expired 10 blocks ago

    async def height() -> int:
        return head

    world.node.height = height  # type: ignore[method-assign]
    world.node.tx_height = 200
    world.ask(6, "/ticker")
    (response,) = await world.respond(6)
    assert response.outcome is Outcome.SUBMISSION
    assert response.code is NeoResponseCode.CONSENSUS_UNREACHABLE
    assert response.result == b""
    assert response.valid_until_block == 200 + 2 * INCREMENT  # neo-go: + INCREMENT while <= the height
    assert world.web.seen == []  # nothing fetched for a backup response
    tx = transaction.Transaction.deserialize_from_bytes(response.raw)
    (attribute,) = tx.attributes
    assert isinstance(attribute, transaction.OracleResponse)
    assert attribute.code == transaction.OracleResponseCode.CONSENSUS_UNREACHABLE
    assert tx.valid_until_block == 200 + 2 * INCREMENT
    world.node.tx_height = head - INCREMENT + 1  # not expired yet: the main response, fetched
    (main,) = await world.respond(6)
    assert main.code is NeoResponseCode.SUCCESS
    assert main.valid_until_block == head + 1
    assert world.web.seen


def test_the_multisig_account_orders_keys_as_neo_does() -> None:
    keys = [
        ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(encoding=_X962, format=_COMPRESSED)
        for _ in range(7)
    ]
    script, account = mamba_account(keys)
    assert nodes_account(keys) == (script, account.to_array())
    assert nodes_account(list(reversed(keys))) == (script, account.to_array())


def test_the_node_key_refuses_raw_signing(keystore: KeyStore, node_key: str) -> None:
    for purpose, fmt, magic in (
        (Purpose.NATIVE_ORACLE, SignatureFormat.NEO_TX, MAGIC),
        (Purpose.NATIVE_ORACLE, SignatureFormat.ECDSA_SHA256, None),
    ):
        with pytest.raises(PolicyDenied, match="enclave operation"):
            keystore.sign(
                node_key,
                [bytes(32)],
                tenant=PLATFORM_KEY_OWNER,
                purpose=purpose,
                fmt=fmt,
                network_magic=magic,
            )


async def test_a_key_without_the_native_oracle_purpose_cannot_answer(
    keystore: KeyStore, certs: Certificates, web: LoopbackServer
) -> None:
    """A node key of the older policy (neo-tx, oracle) stays raw-signable, so the op does not use it."""
    old = keystore.create(
        KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NEO_TX, Purpose.ORACLE])
    )
    w = World(keystore, old.info.key_id, certs, web)
    w.ask(1, "/ticker")
    with pytest.raises(PolicyDenied, match="native-oracle"):
        await w.respond(1)
