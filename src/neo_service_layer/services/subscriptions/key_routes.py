"""``GET /api/v1/webhooks/signing-key``: the public key that verifies the ``v1a,`` (Ed25519)
signatures every webhook and e-mail carries beside its ``v1,`` HMAC ones.

One key for the platform (the enclave's ``webhooks-ed25519`` key): a receiver that verifies ``v1a`` must
also check that the body's ``subscription`` is its own (docs/events.md)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.container import Container
from neo_service_layer.services.subscriptions.adapters.webhook_key import public_key_text, webhook_public_key
from neo_service_layer.services.subscriptions.routes import Reader

router = APIRouter(prefix="/webhooks", tags=["subscriptions"])


class WebhookKeyNotCreated(NotFound):
    code = "webhook-key-not-created"


class SigningKey(BaseModel):
    #: the Standard Webhooks signature version it verifies
    version: Literal["v1a"] = "v1a"
    algorithm: Literal["ed25519"] = "ed25519"
    #: ``whpk_`` + base64 of the 32-byte Ed25519 public key
    publicKey: str  # noqa: N815
    keyId: str  # noqa: N815


@router.get("/signing-key", summary="The public key of the v1a (Ed25519) webhook signatures")
async def signing_key(request: Request, principal: Reader) -> SigningKey:
    container: Container = request.app.state.container
    key = await webhook_public_key(container.platform_keys)
    if key is None:
        raise WebhookKeyNotCreated("the worker creates the webhook key when it starts; none exists yet")
    return SigningKey(publicKey=public_key_text(key.public_key), keyId=key.key_id)
