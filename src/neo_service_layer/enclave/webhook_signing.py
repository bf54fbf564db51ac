"""The enclave's ``webhook_sign`` op: a Standard Webhooks ``v1a`` signature with the platform's Ed25519
webhook key (purpose ``webhooks``, typed-only: the raw ``sign`` operations refuse it).

Wire arguments: ``{"tenant", "key_id", "subscription", "msg_id", "timestamp": int, "body": b64}``;
result ``{"signature": b64 (64 bytes)}``. What the enclave checks before it signs is
``wire/webhooks.signed_content``: a fresh webhook of the named subscription, nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import InvalidKeyRequest, KeyKind, Purpose, SignatureFormat
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.webhooks import NotAWebhook, signed_content


class WebhookSignOp:
    """Runs ``webhook_sign`` (synchronous: pure computation)."""

    def __init__(self, keys: KeyStore, clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._clock = clock

    def __call__(self, args: Args) -> dict[str, Any]:
        key_id = args.text("key_id")
        if self._keys.info(key_id).kind is not KeyKind.ED25519:
            raise InvalidKeyRequest("key_id must name an ed25519 key")
        try:
            content = signed_content(
                args.text("subscription"),
                args.text("msg_id"),
                args.integer("timestamp"),
                args.blob("body"),
                self._clock(),
            )
        except NotAWebhook as exc:
            raise InvalidKeyRequest(str(exc)) from None
        [signature] = self._keys.sign_for_operation(
            key_id,
            [content],
            tenant=args.text("tenant"),
            purpose=Purpose.WEBHOOKS,
            fmt=SignatureFormat.ED25519,
        )
        return {"signature": b64encode(signature)}
