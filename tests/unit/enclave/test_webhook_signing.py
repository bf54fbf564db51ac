"""The enclave's ``webhook_sign``: the platform's Ed25519 webhook key signs a fresh Standard Webhooks
message of one subscription and nothing else; the raw sign operations refuse it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from neo_service_layer.enclave.clients import API, CLI, WORKER, check_allowed
from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.webhook_signing import WebhookSignOp
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
)
from neo_service_layer.enclave.wire.protocol import Args

NOW = 1_800_000_000
SUB = "sub_" + "ab" * 12


def _body(event_id: int = 42, subscription: str = SUB, **extra: object) -> bytes:
    return json.dumps({"id": event_id, "subscription": subscription, "type": "x", **extra}).encode()


@pytest.fixture
def key(keystore: KeyStore) -> tuple[str, bytes]:
    info = keystore.create(KeyKind.ED25519, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.WEBHOOKS])).info
    return info.key_id, info.public_key


def _args(key_id: str, body: bytes, **extra: Any) -> Args:
    base: dict[str, Any] = {
        "tenant": PLATFORM_KEY_OWNER,
        "key_id": key_id,
        "subscription": SUB,
        "msg_id": "42",
        "timestamp": NOW,
        "body": b64encode(body),
    }
    return Args({**base, **extra})


def _op(keystore: KeyStore) -> WebhookSignOp:
    return WebhookSignOp(keystore, clock=lambda: NOW + 10)


def test_a_fresh_webhook_of_the_subscription_is_signed_as_v1a(
    keystore: KeyStore, key: tuple[str, bytes]
) -> None:
    body = _body()
    signature = b64decode(_op(keystore)(_args(key[0], body))["signature"])
    public = Ed25519PublicKey.from_public_bytes(key[1])
    public.verify(signature, f"42.{NOW}.".encode() + body)  # the specification's signed content
    with pytest.raises(InvalidSignature):
        public.verify(signature, f"42.{NOW}.".encode() + _body(extra=1))


@pytest.mark.parametrize(
    ("body", "extra", "reason"),
    [
        (_body(subscription="sub_" + "cd" * 12), {}, "subscription"),  # another subscription's webhook
        (_body(event_id=43), {}, "id"),  # the body's id is not the webhook id
        (_body(), {"timestamp": NOW - 400}, "timestamp"),  # a stale one, or one made for later
        (_body(), {"timestamp": NOW + 400}, "timestamp"),
        (b"not json", {}, "JSON"),
        (b"[42]", {}, "id"),
        (_body(), {"msg_id": "042"}, "event id"),
        (_body(), {"subscription": "sub_x"}, "subscription id"),
        (_body(pad="x" * (1 << 20)), {}, "at most"),
    ],
)
def test_anything_but_a_fresh_webhook_of_the_named_subscription_is_refused(
    keystore: KeyStore, key: tuple[str, bytes], body: bytes, extra: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidKeyRequest, match=reason):
        _op(keystore)(_args(key[0], body, **extra))


def test_only_the_webhook_key_signs_and_only_through_the_op(
    keystore: KeyStore, sealer: Sealer, key: tuple[str, bytes], tmp_path: Path
) -> None:
    ops = EnclaveOperations(SimulationPlatform(tmp_path), sealer, keystore)
    raw = {"key_id": key[0], "tenant": PLATFORM_KEY_OWNER, "purpose": "webhooks", "format": "ed25519"}
    with pytest.raises(PolicyDenied):
        ops.dispatch("sign", Args({**raw, "message": b64encode(f"42.{NOW}.".encode() + _body())}))
    other = keystore.create(KeyKind.ED25519, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.MESSAGE])).info
    with pytest.raises(PolicyDenied, match="purpose webhooks"):
        _op(keystore)(_args(other.key_id, _body()))
    p256 = keystore.create(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.MESSAGE])).info
    with pytest.raises(InvalidKeyRequest, match="ed25519"):
        _op(keystore)(_args(p256.key_id, _body()))
    with pytest.raises(PolicyDenied, match="another tenant"):
        _op(keystore)(_args(key[0], _body(), tenant="acme"))
    policy = {"tenant": "acme", "purposes": ["webhooks"]}  # a tenant key never takes the purpose
    with pytest.raises(OperationNotAllowed):
        check_allowed(API, "create_key", Args({"kind": "ed25519", "policy": policy}))
    check_allowed(WORKER, "webhook_sign", _args(key[0], _body()))
    for client in (API, CLI):
        with pytest.raises(OperationNotAllowed):
            check_allowed(client, "webhook_sign", _args(key[0], _body()))
