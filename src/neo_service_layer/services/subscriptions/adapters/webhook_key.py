"""The platform's Ed25519 webhook key: Standard Webhooks ``v1a`` signatures from the enclave.

The key plays the role ``webhooks-ed25519`` (``__platform__``, purpose ``webhooks``: typed-only, the
enclave's ``webhook_sign`` is its only use). The worker creates it once (only the worker client creates
platform keys); the API reads its public key for ``GET /api/v1/webhooks/signing-key``.
"""

from __future__ import annotations

import base64

from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyKind, Purpose
from neo_service_layer.enclave.wire.webhooks import PUBLIC_KEY_PREFIX
from neo_service_layer.kernel.chain.adapters.service_keys import RoleKey, ensure_role_key, load_role_key
from neo_service_layer.kernel.chain.ports.role_keys import RoleKeyStore
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave

ROLE = "webhooks-ed25519"


def public_key_text(public_key: bytes) -> str:
    """``whpk_`` + base64, the form the specification's libraries take."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(public_key).decode()


async def webhook_public_key(store: RoleKeyStore) -> RoleKey | None:
    """The key, if the worker has created it."""
    return await load_role_key(store, ROLE)


class EnclaveWebhookSigner:
    """Signs with the webhook key, creating it in the enclave the first time (worker only)."""

    def __init__(self, store: RoleKeyStore, enclave: Enclave, clock: Clock) -> None:
        self._store = store
        self._enclave = enclave
        self._clock = clock
        self._key: RoleKey | None = None

    async def key(self) -> RoleKey:
        if self._key is None:
            self._key = await ensure_role_key(
                self._store, self._enclave, self._clock, ROLE, KeyKind.ED25519, [Purpose.WEBHOOKS]
            )
        return self._key

    async def sign(self, subscription: str, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``v1a,<base64>`` signature of ``{msg_id}.{timestamp}.{body}``."""
        key = await self.key()
        signature = await self._enclave.webhook_sign(
            key.key_id,
            tenant=PLATFORM_KEY_OWNER,
            subscription=subscription,
            msg_id=msg_id,
            timestamp=timestamp,
            body=body,
        )
        return "v1a," + base64.b64encode(signature).decode()
