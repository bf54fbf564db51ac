"""Standard Webhooks ``v1a`` signatures with the platform's Ed25519 webhook key in a real enclave
process: created once, its public key served as ``whpk_…``, signatures that verify with it over exactly
``{id}.{timestamp}.{body}``, and the enclave refusing anything but a fresh webhook of the subscription."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from neo_service_layer.enclave.wire.keys import InvalidKeyRequest
from neo_service_layer.services.subscriptions.adapters.webhook_key import EnclaveWebhookSigner
from tests.http.keys.conftest import Api

SUB = "sub_" + "ab" * 12


async def test_the_webhook_key_is_made_once_served_and_signs_v1a(api: Api) -> None:
    acme = await api.tenant("acme")
    missing = await acme.call("GET", "/api/v1/webhooks/signing-key", "subscriptions:read")
    assert missing.status_code == 404  # no worker has created it yet
    assert missing.json()["type"].endswith("webhook-key-not-created")
    container = api.container
    signer = EnclaveWebhookSigner(container.platform_keys, container.enclave, container.clock)
    again = EnclaveWebhookSigner(container.platform_keys, container.enclave, container.clock)
    assert (await signer.key()).key_id == (await again.key()).key_id  # one key, however many workers
    shown = await acme.call("GET", "/api/v1/webhooks/signing-key", "subscriptions:read")
    assert shown.status_code == 200, shown.text
    assert shown.json()["publicKey"].startswith("whpk_")
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(shown.json()["publicKey"][5:]))
    now = int(time.time())
    body = json.dumps({"id": 7, "subscription": SUB, "type": "audit.security"}).encode()
    header = await signer.sign(SUB, "7", now, body)
    version, _, signature = header.partition(",")
    assert version == "v1a"
    public.verify(base64.b64decode(signature), f"7.{now}.".encode() + body)
    with pytest.raises(InvalidKeyRequest, match="subscription"):
        await signer.sign("sub_" + "cd" * 12, "7", now, body)  # another subscription's webhook
    with pytest.raises(InvalidKeyRequest, match="timestamp"):
        await signer.sign(SUB, "7", now - 3600, body)
