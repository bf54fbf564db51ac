"""``oracle_evm_fetch`` in the enclave (no process) and its wire format: the enclave fetches behind its
guard, filters and signs the digest an EVM contract's ``ecrecover`` accepts, bound to chain id, contract,
request, consumer, URL, filter, code, result and timestamp; the key signs nothing else."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from loopback_http import LoopbackServer, echo_headers_route, raw_route

from neo_service_layer.enclave.clients import API, CLI, WORKER, check_allowed
from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.oracle_evm import EvmOracleFetchOp
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.signing import keccak256
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.oracle import FetchSpec, ResultCode
from neo_service_layer.enclave.wire.oracle_evm import FULFIL_TAG, EvmOracleFacts, fulfil_preimage
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.secret_labels import seal_payload
from neo_service_layer.services.keys.rules import InvalidKeyInput, check_purposes
from neo_service_layer.services.randomness.adapters.keys import evm_address

FETCHER = Fetcher(GuardPolicy.of(["127.0.0.1"], allow_http=True))
NOW = 1_700_000_000.123
SECRET = "sk-live-evm-0123456789"
CHAIN_ID = 47763
CONTRACT = bytes(range(1, 21))
CONSUMER = bytes(range(101, 121))


def _keccak(data: bytes) -> bytes:
    return bytes(keccak(data))


@pytest.fixture
def op(keystore: KeyStore, sealer: Sealer) -> EvmOracleFetchOp:
    return EvmOracleFetchOp(keystore, sealer, FETCHER, clock=lambda: NOW)


@pytest.fixture
def key(keystore: KeyStore) -> tuple[str, str]:
    """The EVM oracle key's id and its address (the contract's signer)."""
    info = keystore.create(KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE_EVM])).info
    return info.key_id, evm_address(info.public_key)


def _facts(url: str, filter_: str = "", request_id: int = 7) -> EvmOracleFacts:
    return EvmOracleFacts(CHAIN_ID, CONTRACT, request_id, CONSUMER, url, filter_)


def _args(key_id: str, facts: EvmOracleFacts, spec: FetchSpec | None = None, **extra: Any) -> Args:
    values: dict[str, Any] = {
        "chain_id": facts.chain_id,
        "contract": b64encode(facts.contract),
        "request_id": facts.request_id,
        "consumer": b64encode(facts.consumer),
        "request_url": facts.url,
        "filter": facts.filter,
        "tenant": PLATFORM_KEY_OWNER,
        "key_id": key_id,
        "request": None if spec is None else spec.to_dict(),
    }
    values.update(extra)
    return Args(values)


def _signer(facts: EvmOracleFacts, result: dict[str, Any]) -> str:
    """What ``ecrecover`` gives for the digest the contract rebuilds from ``facts`` and the answer."""
    preimage = fulfil_preimage(
        facts, int(result["code"]), b64decode(result["result"]), int(result["timestamp"]), _keccak
    )
    return str(Account._recover_hash(_keccak(preimage), signature=b64decode(result["signature"])))


def test_the_preimage_is_what_the_contract_packs() -> None:
    facts = _facts("https://a.example/p?x=1", "$.price", request_id=2**200)
    preimage = fulfil_preimage(facts, ResultCode.SUCCESS, b"12.5", 1_700_000_000_123, _keccak)
    assert preimage == (
        b"NSL-ORACLE-EVM-V1"
        + CHAIN_ID.to_bytes(32, "big")
        + CONTRACT
        + (2**200).to_bytes(32, "big")
        + CONSUMER
        + _keccak(b"https://a.example/p?x=1")
        + _keccak(b"$.price")
        + bytes(32)
        + _keccak(b"12.5")
        + (1_700_000_000_123).to_bytes(32, "big")
    )
    assert preimage.startswith(FULFIL_TAG)
    # the enclave's Keccak-256 is the Ethereum one (not SHA3-256)
    assert keccak256(preimage) == _keccak(preimage)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": 256}, "code"),
        ({"code": ResultCode.NOT_FOUND, "result": b"x"}, "only a successful answer"),
        ({"result": b"x" * 65537}, "result"),
        ({"timestamp_ms": 2**64}, "timestamp"),
        ({"keccak256": lambda data: b"short"}, "32 bytes"),
    ],
)
def test_the_preimage_refuses_what_the_contract_would(change: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "code": ResultCode.SUCCESS,
        "result": b"ok",
        "timestamp_ms": 1,
        "keccak256": _keccak,
        **change,
    }
    with pytest.raises(InvalidInput, match=message):
        fulfil_preimage(_facts("https://a.example/"), **values)


@pytest.mark.parametrize(
    "bad",
    [
        {"chain_id": 0},
        {"request_id": 2**256},
        {"request_id": -1},
        {"contract": bytes(19)},
        {"consumer": bytes(21)},
        {"url": ""},
        {"url": "https://a.example/" + "x" * 500},
        {"filter": "$" + "x" * 256},
    ],
)
def test_facts_out_of_the_contracts_limits_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        replace(_facts("https://a.example/"), **bad)


async def test_the_answer_is_fetched_filtered_and_recovers_to_the_keys_address(
    op: EvmOracleFetchOp, key: tuple[str, str]
) -> None:
    key_id, address = key
    async with LoopbackServer({"/p": raw_route(b'{"data": {"price": 12.50}}', "application/json")}) as server:
        facts = _facts(server.url("/p"), "$.data.price")
        spec = FetchSpec(url=facts.url, filter=facts.filter)
        result = await op(_args(key_id, facts, spec))
    assert (result["code"], b64decode(result["result"]), result["status"]) == (0, b"12.50", 200)
    assert result["timestamp"] == int(NOW * 1000)
    signature = b64decode(result["signature"])
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert (
        int.from_bytes(signature[32:64], "big")
        <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    )
    assert _signer(facts, result) == address
    # bound to every fact and to the answer: any change recovers to another address
    others = [
        replace(facts, chain_id=1),
        replace(facts, contract=bytes(20)),
        replace(facts, request_id=8),
        replace(facts, consumer=bytes(20)),
        replace(facts, url=facts.url + "?"),
        replace(facts, filter="$.data"),
    ]
    for other in others:
        assert _signer(other, result) != address
    for altered in ({"result": b64encode(b"99.99")}, {"timestamp": result["timestamp"] + 1}):
        assert _signer(facts, {**result, **altered}) != address


async def test_secrets_are_injected_and_never_echoed(
    op: EvmOracleFetchOp, key: tuple[str, str], sealer: Sealer
) -> None:
    key_id, address = key
    blob = sealer.seal(
        SealUse.DATA,
        {"tenant": "acme", "label": "secret:apikey:v1"},
        seal_payload(SECRET.encode(), ("127.0.0.1",)),
    )
    secrets = [{"name": "apikey", "version": 1, "blob": b64encode(blob)}]
    routes = {"/echo": echo_headers_route(), "/p": raw_route(b'{"v": 1}', "application/json")}
    async with LoopbackServer(routes) as server:
        for path, code in (("/p", ResultCode.SUCCESS), ("/echo", ResultCode.FORBIDDEN)):
            facts = _facts("nsl://template/acme-price")
            spec = FetchSpec(url=server.url(path), headers=(("X-Api-Key", "{{secret:apikey}}"),))
            result = await op(_args(key_id, facts, spec, tenant="acme", secrets=secrets))
            assert result["code"] == code
            assert SECRET not in str(result)
            assert _signer(facts, result) == address
        assert server.seen[0].headers["x-api-key"] == SECRET


async def test_the_guard_refusal_and_a_host_refusal_are_signed_with_an_empty_result(
    op: EvmOracleFetchOp, key: tuple[str, str]
) -> None:
    key_id, address = key
    guarded = _facts("http://10.0.0.1/")
    result = await op(_args(key_id, guarded, FetchSpec(url=guarded.url)))
    assert (result["code"], result["result"]) == (ResultCode.FORBIDDEN, "")
    assert _signer(guarded, result) == address
    refused = _facts("nsl://template/unknown")
    result = await op(_args(key_id, refused, code=int(ResultCode.NOT_FOUND)))
    assert (result["code"], result["result"], result["status"]) == (ResultCode.NOT_FOUND, "", None)
    assert _signer(refused, result) == address
    with pytest.raises(InvalidKeyRequest, match="other than SUCCESS"):  # the host never supplies a result
        await op(_args(key_id, refused, code=0, result=b64encode(b"chosen")))


async def test_the_key_is_checked_before_anything_is_fetched(
    op: EvmOracleFetchOp, keystore: KeyStore
) -> None:
    r1 = keystore.create(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE])).info.key_id
    k1_other = keystore.create(
        KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
    ).info.key_id
    async with LoopbackServer({"/p": raw_route(b"{}", "application/json")}) as server:
        facts = _facts(server.url("/p"))
        spec = FetchSpec(url=facts.url)
        with pytest.raises(InvalidKeyRequest, match="secp256k1"):
            await op(_args(r1, facts, spec))
        with pytest.raises(PolicyDenied, match="oracle-evm"):
            await op(_args(k1_other, facts, spec))
        assert server.seen == []


async def test_the_fetch_must_be_the_requests(op: EvmOracleFetchOp, key: tuple[str, str]) -> None:
    key_id, _ = key
    facts = _facts("https://a.example/p", "$.a")
    with pytest.raises(InvalidKeyRequest, match="request_url"):
        await op(_args(key_id, facts, FetchSpec(url="https://b.example/p", filter="$.a")))
    with pytest.raises(InvalidKeyRequest, match="filter"):
        await op(_args(key_id, facts, FetchSpec(url=facts.url, filter="$.b")))
    with pytest.raises(InvalidKeyRequest):
        await op(_args(key_id, facts, FetchSpec(url=facts.url, filter="$.a"), chain_id=0))


def test_the_evm_oracle_key_refuses_raw_signing(keystore: KeyStore, key: tuple[str, str]) -> None:
    key_id, _ = key
    for fmt in (SignatureFormat.EVM_DIGEST, SignatureFormat.EVM_RECOVERABLE, SignatureFormat.ECDSA_KECCAK256):
        with pytest.raises(PolicyDenied, match="oracle-evm sign only through their enclave operation"):
            keystore.sign(key_id, [bytes(32)], tenant=PLATFORM_KEY_OWNER, purpose=Purpose.ORACLE_EVM, fmt=fmt)


def test_only_the_worker_may_ask_and_no_tenant_key_gets_the_purpose() -> None:
    args = _args("k", _facts("https://a.example/"), FetchSpec(url="https://a.example/"))
    check_allowed(WORKER, "oracle_evm_fetch", args)
    for client in (API, CLI):
        with pytest.raises(OperationNotAllowed):
            check_allowed(client, "oracle_evm_fetch", args)
    with pytest.raises(InvalidKeyInput, match="reserved"):
        check_purposes(KeyKind.SECP256K1, frozenset({Purpose.MESSAGE, Purpose.ORACLE_EVM}))
    policy = {"tenant": "ten_a", "purposes": ["message", "oracle-evm"]}
    with pytest.raises(OperationNotAllowed, match="only platform keys"):
        check_allowed(API, "create_key", Args({"kind": "secp256k1", "policy": policy}))
