"""Keys in the enclave, sealed secrets (names and versions; values go in, never out), attestation and
the Neo network the installation serves."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from nsl_client.calls import Call, as_json, list_parser, nothing, parser, register
from nsl_client.models import (
    AttestationVerdict,
    Key,
    Network,
    PlatformAttestation,
    Secret,
    SecretVersion,
    Signature,
    SignatureBatch,
    SignatureCheck,
)

LIST_KEYS = register("list_keys", "GET", "/api/v1/keys", Key, many=True)
CREATE_KEY = register("create_key", "POST", "/api/v1/keys", Key, creates=True)
GET_KEY = register("get_key", "GET", "/api/v1/keys/{key_id}", Key)
ROTATE_KEY = register("rotate_key", "POST", "/api/v1/keys/{key_id}/rotate", Key, creates=True)
DISABLE_KEY = register("disable_key", "POST", "/api/v1/keys/{key_id}/disable", Key)
SIGN = register("sign", "POST", "/api/v1/keys/{key_id}/sign", Signature)
VERIFY = register("verify_signature", "POST", "/api/v1/keys/{key_id}/verify", SignatureCheck)
SIGN_BATCH = register("sign_batch", "POST", "/api/v1/keys/{key_id}/sign-batch", SignatureBatch)
VERIFY_PUBLIC = register("verify_public_signature", "POST", "/api/v1/keys/verify", SignatureCheck)
SCHEDULE_DESTRUCTION = register("schedule_key_destruction", "POST", "/api/v1/keys/{key_id}/destruction", Key)
CANCEL_DESTRUCTION = register("cancel_key_destruction", "DELETE", "/api/v1/keys/{key_id}/destruction", Key)
LIST_SECRETS = register("list_secrets", "GET", "/api/v1/secrets", Secret, many=True)
GET_SECRET = register("get_secret", "GET", "/api/v1/secrets/{name}", Secret)
SECRET_VERSIONS = register(
    "secret_versions", "GET", "/api/v1/secrets/{name}/versions", SecretVersion, many=True
)
PUT_SECRET = register("put_secret", "PUT", "/api/v1/secrets/{name}", Secret)
ROTATE_SECRET = register("rotate_secret", "POST", "/api/v1/secrets/{name}/rotate", Secret, creates=True)
DELETE_SECRET = register("delete_secret", "DELETE", "/api/v1/secrets/{name}")
ATTESTATION = register("attestation_report", "GET", "/api/v1/attestation")
PLATFORM_ATTESTATION = register(
    "platform_attestation", "GET", "/api/v1/attestation/platform", PlatformAttestation
)
VERIFY_ATTESTATION = register(
    "verify_attestation_remote", "POST", "/api/v1/attestation/verify", AttestationVerdict
)
NETWORK = register("neo_network", "GET", "/api/v1/neo/network", Network)


def list_keys() -> Call[list[Key]]:
    return LIST_KEYS.call(list_parser(Key))


def create_key(
    kind: str,
    label: str,
    purposes: Sequence[str],
    *,
    max_signs_per_minute: int | None = None,
    idempotency_key: str | None = None,
) -> Call[Key]:
    """A new key made inside the enclave (``kind``: secp256r1, secp256k1, ed25519, bls12-381)."""
    body: dict[str, Any] = {"kind": kind, "label": label, "purposes": list(purposes)}
    if max_signs_per_minute is not None:
        body["max_signs_per_minute"] = max_signs_per_minute
    return CREATE_KEY.call(parser(Key), json=body, idempotency_key=idempotency_key)


def get_key(key_id: str) -> Call[Key]:
    return GET_KEY.call(parser(Key), path={"key_id": key_id})


def rotate_key(
    key_id: str, *, min_sign_version: int | None = None, idempotency_key: str | None = None
) -> Call[Key]:
    """A new version of the key; versions below ``min_sign_version`` stop signing."""
    return ROTATE_KEY.call(
        parser(Key),
        path={"key_id": key_id},
        json={"min_sign_version": min_sign_version},
        idempotency_key=idempotency_key,
    )


def disable_key(key_id: str) -> Call[Key]:
    return DISABLE_KEY.call(parser(Key), path={"key_id": key_id})


def sign(
    key_id: str,
    message: bytes,
    *,
    purpose: str = "message",
    format: str | None = None,
    version: int | None = None,
) -> Call[Signature]:
    """Sign ``message`` (sent base64) with the key's current version, or ``version``."""
    body: dict[str, Any] = {
        "encoding": "base64",
        "message": base64.b64encode(message).decode(),
        "purpose": purpose,
        "format": format,
        "version": version,
    }
    return SIGN.call(parser(Signature), path={"key_id": key_id}, json=body)


def verify_signature(
    key_id: str, message: bytes, signature: str, *, format: str | None = None, version: int | None = None
) -> Call[SignatureCheck]:
    """Check ``signature`` (as ``sign`` answered it) over ``message`` with the key's public part."""
    body = {
        "encoding": "base64",
        "message": base64.b64encode(message).decode(),
        "signature": signature,
        "format": format,
        "version": version,
    }
    return VERIFY.call(parser(SignatureCheck), path={"key_id": key_id}, json=body)


def sign_batch(
    key_id: str,
    messages: Sequence[bytes],
    *,
    purpose: str = "message",
    format: str | None = None,
    version: int | None = None,
) -> Call[SignatureBatch]:
    """Sign up to 100 ``messages`` in one enclave round trip; signatures come back in their order."""
    body: dict[str, Any] = {
        "encoding": "base64",
        "messages": [base64.b64encode(m).decode() for m in messages],
        "purpose": purpose,
        "format": format,
        "version": version,
    }
    return SIGN_BATCH.call(parser(SignatureBatch), path={"key_id": key_id}, json=body)


def verify_public_signature(
    kind: str, public_key: bytes, message: bytes, signature: str, *, format: str | None = None
) -> Call[SignatureCheck]:
    """Check ``signature`` (base64, as ``sign`` answers it) over ``message`` with any ``public_key`` of
    ``kind`` (compressed bytes); the server checks it without the enclave."""
    body = {
        "encoding": "base64",
        "kind": kind,
        "public_key": base64.b64encode(public_key).decode(),
        "message": base64.b64encode(message).decode(),
        "signature": signature,
        "format": format,
    }
    return VERIFY_PUBLIC.call(parser(SignatureCheck), json=body)


def schedule_key_destruction(key_id: str) -> Call[Key]:
    """Destroy the key after a 7-day grace (``destroy_after``); it signs nothing meanwhile."""
    return SCHEDULE_DESTRUCTION.call(parser(Key), path={"key_id": key_id})


def cancel_key_destruction(key_id: str) -> Call[Key]:
    """Call off a scheduled destruction during the grace period."""
    return CANCEL_DESTRUCTION.call(parser(Key), path={"key_id": key_id})


def list_secrets() -> Call[list[Secret]]:
    return LIST_SECRETS.call(list_parser(Secret))


def get_secret(name: str) -> Call[Secret]:
    """A secret's metadata (never its value)."""
    return GET_SECRET.call(parser(Secret), path={"name": name})


def secret_versions(name: str) -> Call[list[SecretVersion]]:
    return SECRET_VERSIONS.call(list_parser(SecretVersion), path={"name": name})


def _value(value: str | bytes) -> dict[str, str]:
    if isinstance(value, bytes):
        return {"encoding": "base64", "value": base64.b64encode(value).decode()}
    return {"encoding": "utf8", "value": value}


def put_secret(
    name: str,
    value: str | bytes,
    *,
    consumers: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    ttl_seconds: int | None = None,
) -> Call[Secret]:
    """Seal a secret for the services in ``consumers`` (oracle, compute, automation, randomness)."""
    body: dict[str, Any] = {
        **_value(value),
        "consumers": list(consumers),
        "allowed_hosts": list(allowed_hosts),
        "ttl_seconds": ttl_seconds,
    }
    return PUT_SECRET.call(parser(Secret), path={"name": name}, json=body)


def rotate_secret(
    name: str, value: str | bytes, *, ttl_seconds: int | None = None, idempotency_key: str | None = None
) -> Call[Secret]:
    """A new version of the secret."""
    body: dict[str, Any] = {**_value(value), "ttl_seconds": ttl_seconds}
    return ROTATE_SECRET.call(parser(Secret), path={"name": name}, json=body, idempotency_key=idempotency_key)


def delete_secret(name: str) -> Call[None]:
    return DELETE_SECRET.call(nothing, path={"name": name})


def attestation_report(nonce: bytes, *, key_id: str | None = None) -> Call[dict[str, Any]]:
    """The enclave's report binding its keys (or ``key_id``'s) to ``nonce`` (8-64 bytes); check it with
    ``verify.verify_attestation_report``."""
    return ATTESTATION.call(as_json, params={"nonce": nonce.hex(), "key_id": key_id})


def platform_attestation(nonce: bytes) -> Call[PlatformAttestation]:
    """A report binding the platform's service keys to ``nonce``, and those keys by role."""
    return PLATFORM_ATTESTATION.call(parser(PlatformAttestation), params={"nonce": nonce.hex()})


def verify_attestation_remote(
    report: dict[str, Any], nonce: bytes, *, expected_public_keys: Sequence[str] = ()
) -> Call[AttestationVerdict]:
    """The server's verdict on a report (``verify.verify_attestation_report`` needs no server)."""
    body = {"report": report, "nonce": nonce.hex(), "expected_public_keys": list(expected_public_keys)}
    return VERIFY_ATTESTATION.call(parser(AttestationVerdict), json=body)


def neo_network() -> Call[Network]:
    """The Neo network served: magic, contract hashes, service public keys."""
    return NETWORK.call(parser(Network))
