"""The keys API through the app, with a real enclave subprocess and SQLite.

Signatures are checked with independent libraries: ``cryptography`` for P-256, ``eth-keys`` recovery for
secp256k1 EVM signatures; Neo addresses are cross-checked with neo-mamba.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from typing import Any

import httpx
import pytest
from Crypto.Hash import keccak
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from eth_keys import keys as eth
from neo3.core import cryptography as neo_crypto
from neo3.wallet import utils as neo_wallet

from neo_service_layer.enclave.wire.keys import KeyDisabled
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditQuery
from neo_service_layer.services.keys.parts import KeysParts
from neo_service_layer.services.keys.use_cases.signing import batch_digest
from tests.http.keys.conftest import Api, MovableClock, Tenant


def p256_verify(public_hex: str, signature: bytes, data: bytes) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(public_hex))
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key.verify(der, data, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature


DEFAULT_PURPOSES = {"secp256r1": ["message", "neo-tx"], "secp256k1": ["message", "evm-tx"]}


async def create(
    tenant: Tenant, kind: str = "secp256r1", purposes: list[str] | None = None
) -> dict[str, Any]:
    body = {
        "kind": kind,
        "label": f"{kind} key",
        "purposes": purposes or DEFAULT_PURPOSES.get(kind, ["message"]),
    }
    response = await tenant.call("POST", "/api/v1/keys", "keys:admin", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def sign(tenant: Tenant, key_id: str, message: bytes, **extra: Any) -> httpx.Response:
    body = {"message": message.hex(), "purpose": "message", **extra}
    return await tenant.call("POST", f"/api/v1/keys/{key_id}/sign", "keys:sign", json=body)


async def test_p256_create_get_sign_verify_with_neo_address(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    key_id = key["key_id"]
    assert key["kind"] == "secp256r1"
    assert key["status"] == "active"
    assert key["current_version"] == 1
    point = neo_crypto.ECPoint.deserialize_from_bytes(bytes.fromhex(str(key["public_key"])))
    script_hash = neo_wallet.public_key_to_script_hash(point)
    assert key["neo_address"] == neo_wallet.script_hash_to_address(script_hash)
    assert key["neo_script_hash"] == "0x" + str(script_hash).removeprefix("0x")
    assert key["evm_address"] is None

    listed = await acme.call("GET", "/api/v1/keys", "keys:read")
    assert [k["key_id"] for k in listed.json()] == [key_id]
    got = await acme.call("GET", f"/api/v1/keys/{key_id}", "keys:read")
    assert got.json()["public_key"] == key["public_key"]

    message = b"hello neo"
    signed = await acme.call(
        "POST",
        f"/api/v1/keys/{key_id}/sign",
        "keys:sign",
        json={"message": message.hex(), "purpose": "message"},
    )
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["format"] == "ecdsa-sha256"
    assert body["version"] == 1
    p256_verify(str(key["public_key"]), bytes.fromhex(body["signature"]), message)

    tx_hash = os.urandom(32)
    neo_tx = await acme.call(
        "POST",
        f"/api/v1/keys/{key_id}/sign",
        "keys:sign",
        json={
            "digest": "0x" + tx_hash.hex(),
            "purpose": "neo-tx",
            "format": "neo-tx",
            "network_magic": 860833102,
        },
    )
    assert neo_tx.status_code == 200, neo_tx.text
    p256_verify(
        str(key["public_key"]),
        bytes.fromhex(neo_tx.json()["signature"]),
        struct.pack("<I", 860833102) + tx_hash,
    )

    verified = await acme.call(
        "POST",
        f"/api/v1/keys/{key_id}/verify",
        "keys:read",
        json={"message": message.hex(), "signature": body["signature"]},
    )
    assert verified.json()["valid"] is True
    tampered = await acme.call(
        "POST",
        f"/api/v1/keys/{key_id}/verify",
        "keys:read",
        json={"message": "00", "signature": body["signature"]},
    )
    assert tampered.json()["valid"] is False

    entries = await api.container.iam.audit_log.page(AuditQuery(tenant_id=acme.id, action=Actions.KEY_USE))
    digests = {e.details["message_sha256"] for e in entries.entries}
    assert hashlib.sha256(message).hexdigest() in digests


async def test_secp256k1_evm_address_and_recoverable_signature(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme, "secp256k1")
    public = eth.PublicKey.from_compressed_bytes(bytes.fromhex(key["public_key"]))
    assert key["evm_address"] == public.to_checksum_address()
    assert key["neo_address"] is None
    message = b"pay 1 GAS to alice"
    signed = await sign(acme, key["key_id"], message)
    assert signed.status_code == 200, signed.text
    assert signed.json()["format"] == "evm-recoverable"
    raw = bytes.fromhex(signed.json()["signature"])
    signature = eth.Signature(
        vrs=(raw[64] - 27, int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"))
    )
    digest = keccak.new(digest_bits=256, data=message).digest()
    assert signature.recover_public_key_from_msg_hash(digest).to_checksum_address() == key["evm_address"]


async def test_batch_signs_100_messages_in_one_request(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    messages = [os.urandom(40) for _ in range(100)]
    body = {"messages": [base64.b64encode(m).decode() for m in messages], "encoding": "base64"}
    response = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/sign-batch", "keys:sign", json=body)
    assert response.status_code == 200, response.text
    signatures = response.json()["signatures"]
    assert len(signatures) == 100
    for message, signature in zip(messages, signatures, strict=True):
        p256_verify(key["public_key"], base64.b64decode(signature), message)
    too_many = {"messages": ["00"] * 101}
    refused = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/sign-batch", "keys:sign", json=too_many)
    assert refused.status_code == 422
    entries = await api.container.iam.audit_log.page(AuditQuery(tenant_id=acme.id, action=Actions.KEY_USE))
    batch = entries.entries[0].details
    assert batch["operation"] == "sign_batch"
    assert batch["count"] == "100"
    assert batch["message_sha256"] == batch_digest(messages)


async def test_verify_with_a_public_key_we_do_not_hold(api: Api) -> None:
    acme = await api.tenant("acme")
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    r, s_ = decode_dss_signature(private.sign(b"outside", ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s_.to_bytes(32, "big")
    body = {
        "kind": "secp256r1",
        "public_key": public.hex(),
        "message": b"outside".hex(),
        "signature": signature.hex(),
    }
    ok = await acme.call("POST", "/api/v1/keys/verify", "keys:read", json=body)
    assert ok.status_code == 200, ok.text
    assert ok.json()["valid"] is True
    wrong = await acme.call("POST", "/api/v1/keys/verify", "keys:read", json={**body, "message": "01"})
    assert wrong.json()["valid"] is False
    bad_key = await acme.call(
        "POST", "/api/v1/keys/verify", "keys:read", json={**body, "public_key": "05" + "11" * 32}
    )
    assert bad_key.status_code == 422
    assert bad_key.headers["content-type"].startswith("application/problem+json")


async def test_rotate_keeps_old_versions_for_verification_only(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    old = await sign(acme, key["key_id"], b"before")
    rotated = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/rotate", "keys:admin")
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["current_version"] == 2
    assert body["min_sign_version"] == 2
    assert body["public_key"] != key["public_key"]
    assert [v["can_sign"] for v in body["versions"]] == [False, True]
    new = await sign(acme, key["key_id"], b"after")
    assert new.json()["version"] == 2
    p256_verify(body["public_key"], bytes.fromhex(new.json()["signature"]), b"after")
    retired = await sign(acme, key["key_id"], b"x", version=1)
    assert retired.status_code == 409
    check = {"message": b"before".hex(), "signature": old.json()["signature"], "version": 1}
    verified = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/verify", "keys:read", json=check)
    assert verified.json() == {**verified.json(), "valid": True, "version": 1}
    # keep version 2 signing while rotating to 3
    third = await acme.call(
        "POST", f"/api/v1/keys/{key['key_id']}/rotate", "keys:admin", json={"min_sign_version": 2}
    )
    assert third.json()["min_sign_version"] == 2
    assert (await sign(acme, key["key_id"], b"y", version=2)).status_code == 200
    bad = await acme.call(
        "POST", f"/api/v1/keys/{key['key_id']}/rotate", "keys:admin", json={"min_sign_version": 1}
    )
    assert bad.status_code == 422


async def test_disable_and_destruction_schedule(api: Api, clock: MovableClock) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    other = await create(acme)
    scheduled = await acme.call("POST", f"/api/v1/keys/{key['key_id']}/destruction", "keys:admin")
    assert scheduled.json()["status"] == "pending_destruction"
    assert (await sign(acme, key["key_id"], b"x")).status_code == 409
    cancelled = await acme.call("DELETE", f"/api/v1/keys/{key['key_id']}/destruction", "keys:admin")
    assert cancelled.json()["status"] == "active"
    assert cancelled.json()["destroy_after"] is None
    assert (await sign(acme, key["key_id"], b"x")).status_code == 200

    disabled = await acme.call("POST", f"/api/v1/keys/{other['key_id']}/disable", "keys:admin")
    assert disabled.json()["status"] == "disabled"
    refused = await sign(acme, other["key_id"], b"x")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")

    await acme.call("POST", f"/api/v1/keys/{key['key_id']}/destruction", "keys:admin")
    async with api.container.parts_of("keys", KeysParts).keys._uow(None) as uow:
        old_record = await uow.sealed_records.get(key["key_id"], None)
    assert old_record is not None
    clock.advance(days=6)
    assert (await api.container.parts_of("keys", KeysParts).keys.destroy_due()).destroyed == ()
    clock.advance(days=1, seconds=1)
    run = await api.container.parts_of("keys", KeysParts).keys.destroy_due()
    assert run.destroyed == (key["key_id"],)
    gone = await acme.call("GET", f"/api/v1/keys/{key['key_id']}", "keys:read")
    assert gone.json()["status"] == "destroyed"
    assert (await sign(acme, key["key_id"], b"x")).status_code == 409
    async with api.container.parts_of("keys", KeysParts).keys._uow(None) as uow:
        assert await uow.sealed_records.get(key["key_id"], None) is None
    # the enclave refuses the key for good, even if an old copy of its sealed record comes back
    with pytest.raises(KeyDisabled):
        await api.container.enclave.load_key(key["key_id"], old_record)


async def test_rotation_due_metric_and_rotate_due(api: Api, clock: MovableClock) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    assert key["rotation_due"] is False
    clock.advance(days=91)
    got = await acme.call("GET", f"/api/v1/keys/{key['key_id']}", "keys:read")
    assert got.json()["rotation_due"] is True
    assert await api.container.parts_of("keys", KeysParts).refresh_rotation_gauge() == 1
    metrics = (await api.client.get("/metrics")).text
    assert "nsl_keys_rotation_due 1.0" in metrics
    rotated = await api.container.parts_of("keys", KeysParts).keys.rotate_due()
    assert [k.key_id for k in rotated] == [key["key_id"]]
    assert await api.container.parts_of("keys", KeysParts).refresh_rotation_gauge() == 0
    entries = await api.container.iam.audit_log.page(AuditQuery(tenant_id=acme.id, action="key.rotate"))
    assert entries.entries[0].actor == "system:key-rotation"


async def test_scopes_tenants_and_bad_input(api: Api) -> None:
    acme = await api.tenant("acme")
    evil = await api.tenant("evil")
    key = await create(acme)
    key_id = key["key_id"]
    no_scope = await acme.call("POST", f"/api/v1/keys/{key_id}/sign", "keys:read", json={"message": "00"})
    assert no_scope.status_code == 403
    assert (await acme.call("POST", "/api/v1/keys", "keys:sign", json={})).status_code in (403, 422)
    no_auth = await api.client.get("/api/v1/keys")
    assert no_auth.status_code == 401
    for method, path in [
        ("GET", f"/api/v1/keys/{key_id}"),
        ("POST", f"/api/v1/keys/{key_id}/sign"),
        ("POST", f"/api/v1/keys/{key_id}/rotate"),
        ("POST", f"/api/v1/keys/{key_id}/disable"),
    ]:
        body = {"message": "00"} if path.endswith("sign") else None
        response = await evil.call(method, path, json=body)
        assert response.status_code == 404, (path, response.text)
    assert (await evil.call("GET", "/api/v1/keys")).json() == []
    bad_hex = await acme.call("POST", f"/api/v1/keys/{key_id}/sign", "keys:sign", json={"message": "zz"})
    assert bad_hex.status_code == 422
    assert any(e["field"] == "body.message" for e in bad_hex.json()["errors"])
    bad_b64 = await acme.call(
        "POST", f"/api/v1/keys/{key_id}/sign", "keys:sign", json={"message": "***", "encoding": "base64"}
    )
    assert any(e["field"] == "body.message" for e in bad_b64.json()["errors"])
    bad_batch = await acme.call(
        "POST", f"/api/v1/keys/{key_id}/sign-batch", "keys:sign", json={"messages": ["00", "0g"]}
    )
    assert bad_batch.status_code == 422
    assert "item 1" in bad_batch.json()["errors"][0]["message"]
    short_digest = await acme.call(
        "POST", f"/api/v1/keys/{key_id}/sign", "keys:sign", json={"digest": "00", "format": "neo-tx"}
    )
    assert short_digest.status_code == 422
    wrong_purpose = await sign(acme, key_id, b"x", purpose="oracle")
    assert wrong_purpose.status_code == 409
    wrong_format = await sign(acme, key_id, b"x", format="evm-recoverable")
    assert wrong_format.status_code == 422


async def test_enclave_down_answers_503_then_reprovisions_from_the_database(api: Api) -> None:
    acme = await api.tenant("acme")
    key = await create(acme)
    await acme.headers("keys:sign")  # the API key first: the enclave issues API keys too
    api.enclave.kill()
    down = await sign(acme, key["key_id"], b"while down")
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    assert "enclave" in down.json()["type"]
    api.enclave.start()  # a fresh enclave process: no key in memory
    again = await sign(acme, key["key_id"], b"after restart")
    assert again.status_code == 200, again.text
    assert again.json()["public_key"] == key["public_key"]
    p256_verify(key["public_key"], bytes.fromhex(again.json()["signature"]), b"after restart")
