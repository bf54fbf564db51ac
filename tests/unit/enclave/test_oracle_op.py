"""The ``oracle_fetch`` op: secret injection, signing, refusals, and async dispatch in the server."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from loopback_http import LoopbackServer, echo_headers_route, json_route, raw_route, stall_route
from tests.p256 import p256_verify as verify

from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.oracle import OracleFetchOp
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.server import EnclaveServer
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import (
    InvalidKeyRequest,
    KeyKind,
    KeyNotLoaded,
    KeyPolicy,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    ResultCode,
    SealedSecret,
    response_message,
)
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.secret_labels import check_allowed_hosts, open_payload, seal_payload
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

SECRET = "sk-live-9f8e7d6c5b4a"
FETCHER = Fetcher(GuardPolicy.of(["127.0.0.1"], allow_http=True))


@pytest.fixture
def oracle_key(keystore: KeyStore) -> str:
    return keystore.create(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.ORACLE])).info.key_id


@pytest.fixture
def op(keystore: KeyStore, sealer: Sealer) -> OracleFetchOp:
    return OracleFetchOp(keystore, sealer, FETCHER, clock=lambda: 1_700_000_000.123)


PINNED = ("127.0.0.1", "a.example")


def sealed(
    sealer: Sealer,
    name: str = "apikey",
    value: str = SECRET,
    tenant: str = "acme",
    version: int = 1,
    hosts: tuple[str, ...] | None = PINNED,
) -> dict[str, Any]:
    plaintext = value.encode() if hosts is None else seal_payload(value.encode(), hosts)
    blob = sealer.seal(SealUse.DATA, {"tenant": tenant, "label": f"secret:{name}:v{version}"}, plaintext)
    return {"name": name, "version": version, "blob": b64encode(blob)}


MAGIC = 2**32 - 2
CONTRACT = bytes(range(20))
CONSUMER = bytes(range(40, 60))


def facts_args(request_id: int, url: str, filter_: str) -> dict[str, Any]:
    """The chain facts of a request, as the host sends them."""
    return {
        "magic": MAGIC,
        "contract": b64encode(CONTRACT),
        "request_id": request_id,
        "consumer": b64encode(CONSUMER),
        "request_url": url,
        "filter": filter_,
    }


def facts(request_id: int, url: str, filter_: str) -> OracleFacts:
    return OracleFacts(MAGIC, CONTRACT, request_id, CONSUMER, url, filter_)


def args(key_id: str, spec: FetchSpec, **extra: Any) -> Args:
    values = {
        **facts_args(7, spec.url, spec.filter),
        "tenant": "acme",
        "key_id": key_id,
        "key_tenant": "operator",
        "request": spec.to_dict(),
    }
    values.update(extra)
    return Args(values)


async def test_signed_result(op: OracleFetchOp, keystore: KeyStore, oracle_key: str) -> None:
    async with LoopbackServer({"/p": raw_route(b'{"data": {"price": 12.50}}', "application/json")}) as server:
        spec = FetchSpec(url=server.url("/p"), filter="$.data.price")
        result = await op(args(oracle_key, spec))
    assert (result["code"], b64decode(result["result"])) == (0, b"12.50")
    assert result["timestamp"] == 1_700_000_000_123
    assert (result["url"], result["filter"], result["request_id"]) == (spec.url, "$.data.price", 7)
    info = keystore.info(oracle_key)
    assert b64decode(result["public_key"]) == info.public_key
    assert result["key_version"] == 1
    message = response_message(
        facts(7, spec.url, "$.data.price"), ResultCode.SUCCESS, 1_700_000_000_123, b"12.50"
    )
    verify(info.public_key, b64decode(result["signature"]), message)


async def test_failures_are_signed_codes(op: OracleFetchOp, keystore: KeyStore, oracle_key: str) -> None:
    spec = FetchSpec(url="https://10.0.0.1/x")
    result = await op(args(oracle_key, spec))
    assert (result["code"], result["result"]) == (ResultCode.FORBIDDEN, "")
    message = response_message(facts(7, spec.url, ""), ResultCode.FORBIDDEN, result["timestamp"], b"")
    verify(keystore.info(oracle_key).public_key, b64decode(result["signature"]), message)


async def test_template_url_is_what_gets_signed(
    op: OracleFetchOp, keystore: KeyStore, oracle_key: str
) -> None:
    async with LoopbackServer({"/p": json_route({"p": 1})}) as server:
        spec = FetchSpec(url=server.url("/p"), filter="$.p")
        result = await op(args(oracle_key, spec, request_url="nsl://template/tpl-1"))
        with pytest.raises(InvalidKeyRequest):
            await op(args(oracle_key, spec, request_url="https://elsewhere.example/"))
    assert result["url"] == "nsl://template/tpl-1"
    message = response_message(facts(7, "nsl://template/tpl-1", "$.p"), 0, result["timestamp"], b"1")
    verify(keystore.info(oracle_key).public_key, b64decode(result["signature"]), message)


async def test_secrets_are_injected_and_never_returned_or_logged(
    op: OracleFetchOp, sealer: Sealer, oracle_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LoopbackServer({"/p": json_route({"p": 1})}) as server:
        spec = FetchSpec(
            url=server.url("/p"),
            method="POST",
            headers=(("X-Api-Key", "{{secret:apikey}}"), ("Authorization", "Bearer {{secret:token}}")),
            body='{"key": "{{secret:apikey}}"}',
            filter="$.p",
        )
        secrets = [sealed(sealer), sealed(sealer, "token", "tok-123456789", version=3)]
        result = await op(args(oracle_key, spec, secrets=secrets))
    (seen,) = server.seen
    assert seen.headers["x-api-key"] == SECRET
    assert seen.headers["authorization"] == "Bearer tok-123456789"
    assert json.loads(seen.body) == {"key": SECRET}
    assert result["code"] == ResultCode.SUCCESS
    assert SECRET not in json.dumps(result)
    assert "tok-123456789" not in json.dumps(result)
    assert SECRET not in caplog.text
    assert "tok-123456789" not in caplog.text


async def test_a_response_echoing_a_secret_is_withheld(
    op: OracleFetchOp, sealer: Sealer, oracle_key: str
) -> None:
    async with LoopbackServer({"/echo": echo_headers_route()}) as server:
        spec = FetchSpec(
            url=server.url("/echo"), headers=(("X-Api-Key", "{{secret:apikey}}"),), filter="$.headers"
        )
        result = await op(args(oracle_key, spec, secrets=[sealed(sealer)]))
    assert server.seen[0].headers["x-api-key"] == SECRET
    assert (result["code"], result["result"]) == (ResultCode.FORBIDDEN, "")
    assert SECRET not in json.dumps(result)


async def test_secrets_stay_out_of_failures(
    op: OracleFetchOp, sealer: Sealer, oracle_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LoopbackServer({"/stall": stall_route()}) as server:
        spec = FetchSpec(
            url=server.url("/stall"), headers=(("X-Api-Key", "{{secret:apikey}}"),), timeout_seconds=0.3
        )
        result = await op(args(oracle_key, spec, secrets=[sealed(sealer)]))
    assert result["code"] == ResultCode.TIMEOUT
    assert SECRET not in json.dumps(result)
    assert SECRET not in caplog.text
    bad_value = sealed(sealer, value=SECRET + "\r\nX-Injected: 1")
    with pytest.raises(InvalidKeyRequest) as refused:
        await op(
            args(
                oracle_key,
                FetchSpec(url="https://a.example/", headers=(("K", "{{secret:apikey}}"),)),
                secrets=[bad_value],
            )
        )
    assert SECRET not in str(refused.value)


async def test_secret_refusals(op: OracleFetchOp, sealer: Sealer, oracle_key: str) -> None:
    spec = FetchSpec(url="https://a.example/", headers=(("K", "{{secret:apikey}}"),))
    with pytest.raises(InvalidKeyRequest, match="not supplied"):
        await op(args(oracle_key, spec))
    with pytest.raises(SealedDataInvalid):  # sealed for another tenant
        await op(args(oracle_key, spec, secrets=[sealed(sealer, tenant="other")]))
    wrong_version = sealed(sealer)
    wrong_version["version"] = 2
    with pytest.raises(SealedDataInvalid):  # the label binds the version
        await op(args(oracle_key, spec, secrets=[wrong_version]))
    with pytest.raises(InvalidKeyRequest):  # secrets may not go into the (published) URL
        await op(
            args(
                oracle_key, FetchSpec(url="https://a.example/?k={{secret:apikey}}"), secrets=[sealed(sealer)]
            )
        )


async def test_a_secret_goes_only_to_its_pinned_hosts(
    op: OracleFetchOp, sealer: Sealer, oracle_key: str
) -> None:
    async with LoopbackServer({"/p": json_route({"p": 1})}) as server:
        pinned_spec = FetchSpec(url=server.url("/p"), headers=(("X-Api-Key", "{{secret:apikey}}"),))
        other_name = FetchSpec(
            url=server.url("/p", host="localhost"), headers=(("X-Api-Key", "{{secret:apikey}}"),)
        )
        with pytest.raises(InvalidKeyRequest, match="pinned hosts"):  # same server, another host name
            await op(args(oracle_key, other_name, secrets=[sealed(sealer, hosts=("127.0.0.1",))]))
        # pinned on another host only: refused before any connection, the value nowhere in the error
        for hosts in (("api.example",), (), None):
            with pytest.raises(InvalidKeyRequest, match="pinned hosts") as refused:
                await op(args(oracle_key, pinned_spec, secrets=[sealed(sealer, hosts=hosts)]))
            assert SECRET not in str(refused.value)
        assert server.seen == []
        # the pinned host gets it
        result = await op(args(oracle_key, pinned_spec, secrets=[sealed(sealer, hosts=("127.0.0.1",))]))
        assert result["code"] == ResultCode.SUCCESS
        assert server.seen[0].headers["x-api-key"] == SECRET


async def test_the_pinned_hosts_are_bound_by_the_seal(sealer: Sealer) -> None:
    blob = sealer.seal(
        SealUse.DATA, {"tenant": "acme", "label": "secret:k:v1"}, seal_payload(b"v", ("a.example",))
    )
    tampered = bytearray(blob)
    tampered[-5] ^= 1  # any change of the sealed envelope (hosts or value) fails authentication
    with pytest.raises(SealedDataInvalid):
        sealer.unseal(SealUse.DATA, {"tenant": "acme", "label": "secret:k:v1"}, bytes(tampered))
    opened = sealer.unseal(SealUse.DATA, {"tenant": "acme", "label": "secret:k:v1"}, blob)
    assert open_payload(opened) == (("a.example",), b"v")
    assert open_payload(b"legacy value") == ((), b"legacy value")
    assert check_allowed_hosts(["API.Example", "api.example", "bücher.example"]) == (
        "api.example",
        "xn--bcher-kva.example",
    )
    for bad in (["https://a.example"], ["a.example:443"], ["a.example/x"], [""], "a.example"):
        with pytest.raises(InvalidInput):
            check_allowed_hosts(bad)


async def test_key_refusals_happen_before_any_fetch(
    op: OracleFetchOp, keystore: KeyStore, oracle_key: str
) -> None:
    async with LoopbackServer({"/p": json_route({"p": 1})}) as server:
        spec = FetchSpec(url=server.url("/p"))
        with pytest.raises(KeyNotLoaded):
            await op(args("k_missing", spec))
        ed = keystore.create(KeyKind.ED25519, KeyPolicy.of("operator", [Purpose.ORACLE])).info.key_id
        with pytest.raises(InvalidKeyRequest):
            await op(args(ed, spec))
        assert server.seen == []
        with pytest.raises(PolicyDenied):
            await op(args(oracle_key, spec, key_tenant="acme"))
        other = keystore.create(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.RANDOMNESS])).info.key_id
        with pytest.raises(PolicyDenied):
            await op(args(other, spec))


@pytest.mark.parametrize(
    "request_spec",
    [
        {"url": "https://a.example/", "method": "DELETE"},
        {"url": "https://a.example/", "body": "x"},
        {"url": "https://a.example/", "headers": [["Host", "evil"]]},
        {"url": "https://a.example/", "headers": [["Bad Name", "x"]]},
        {"url": "https://a.example/", "headers": [["X", "a\r\nb"]]},
        {"url": "https://a.example/", "timeout_seconds": 120},
        {"url": "https://a.example/", "max_response_bytes": 2 * 1024 * 1024},
        {"url": "https://a.example/", "max_redirects": 9},
        {"url": 5},
        {},
    ],
)
async def test_malformed_specs(op: OracleFetchOp, oracle_key: str, request_spec: dict[str, Any]) -> None:
    values = {
        **facts_args(1, "https://a.example/", ""),
        "tenant": "acme",
        "key_id": oracle_key,
        "key_tenant": "operator",
        "request": request_spec,
    }
    with pytest.raises(InvalidKeyRequest):
        await op(Args(values))


async def test_a_slow_fetch_does_not_block_other_requests(
    tmp_path: Path, sealer: Sealer, keystore: KeyStore
) -> None:
    operations = EnclaveOperations(SimulationPlatform(tmp_path), sealer, keystore, FETCHER)
    key_id = keystore.create(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.ORACLE])).info.key_id
    server = EnclaveServer(operations, b"token", tmp_path / "e.sock")
    await server.start()
    client = EnclaveClient(tmp_path / "e.sock", "token", timeout=5)
    try:
        async with LoopbackServer({"/stall": stall_route(3.0), "/p": json_route({"p": 2})}) as http:
            slow = asyncio.create_task(
                client.oracle_fetch(
                    facts(1, http.url("/stall"), ""),
                    FetchSpec(url=http.url("/stall"), timeout_seconds=1.5),
                    tenant="acme",
                    key_id=key_id,
                    key_tenant="operator",
                )
            )
            while not http.seen:
                await asyncio.sleep(0.01)
            started = asyncio.get_running_loop().time()
            status = await client.status()
            fast = await client.oracle_fetch(
                facts(2, http.url("/p"), "$.p"),
                FetchSpec(url=http.url("/p"), filter="$.p"),
                tenant="acme",
                key_id=key_id,
                key_tenant="operator",
            )
            assert asyncio.get_running_loop().time() - started < 1.0
            assert not slow.done()
            assert (status.loaded_keys, fast.code, fast.result) == (1, ResultCode.SUCCESS, b"2")
            assert (await slow).code is ResultCode.TIMEOUT
        verify(fast.public_key, fast.signature, fast.message())
        secret_blob = sealer.seal(SealUse.DATA, {"tenant": "acme", "label": "secret:k:v1"}, b"v")
        assert SealedSecret("k", 1, secret_blob).blob == secret_blob
    finally:
        await client.close()
        await server.close()


async def test_the_facts_are_signed_and_must_match_the_fetch(
    op: OracleFetchOp, keystore: KeyStore, oracle_key: str
) -> None:
    """The URL signed is the request's; a fetch of another URL or with another filter is refused."""
    async with LoopbackServer({"/p": json_route({"p": 1})}) as server:
        spec = FetchSpec(url=server.url("/p"), filter="$.p")
        result = await op(args(oracle_key, spec))
        with pytest.raises(InvalidKeyRequest):
            await op(args(oracle_key, spec, request_url="https://elsewhere.example/"))
        with pytest.raises(InvalidKeyRequest):
            await op(args(oracle_key, spec, filter="$.q"))
    assert (result["magic"], b64decode(result["contract"]), b64decode(result["consumer"])) == (
        MAGIC,
        CONTRACT,
        CONSUMER,
    )
    message = response_message(facts(7, spec.url, "$.p"), 0, result["timestamp"], b"1")
    verify(keystore.info(oracle_key).public_key, b64decode(result["signature"]), message)


async def test_a_refusal_is_signed_for_the_facts_without_fetching(
    op: OracleFetchOp, keystore: KeyStore, oracle_key: str
) -> None:
    values = {**facts_args(3, "nsl://template/missing", "$.p"), "code": int(ResultCode.NOT_FOUND)}
    values.update({"tenant": "operator", "key_id": oracle_key, "key_tenant": "operator"})
    result = await op(Args(values))
    assert (result["code"], result["result"], result["url"]) == (
        ResultCode.NOT_FOUND,
        "",
        values["request_url"],
    )
    message = response_message(
        facts(3, "nsl://template/missing", "$.p"), ResultCode.NOT_FOUND, result["timestamp"], b""
    )
    verify(keystore.info(oracle_key).public_key, b64decode(result["signature"]), message)
    for code in (int(ResultCode.SUCCESS), 7, 256):
        with pytest.raises(InvalidKeyRequest):
            await op(Args({**values, "code": code}))


def test_raw_sign_refuses_oracle_messages(keystore: KeyStore, oracle_key: str) -> None:
    """The oracle key signs other messages raw (a native Oracle peer submission), never an oracle answer."""
    answer = response_message(facts(1, "https://a.example/", ""), 0, 1, b"1")
    for message in (answer, b"NSL-ORACLE-V1" + answer[13:]):
        with pytest.raises(PolicyDenied, match="oracle_fetch"):
            keystore.sign(
                oracle_key, [b"peer submission", message], tenant="operator", purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )  # fmt: skip
    assert keystore.sign(
        oracle_key,
        [b"peer submission"],
        tenant="operator",
        purpose=Purpose.ORACLE,
        fmt=SignatureFormat.ECDSA_SHA256,
    )
