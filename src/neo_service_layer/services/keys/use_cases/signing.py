"""Signing with a tenant's key: one message or a batch in one enclave round trip, audited either way.

The audit entry records the SHA-256 of what was signed (never the message), the version, purpose and
format; a refusal (key not usable, policy denied) is audited as denied, an enclave failure as failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from neo_service_layer.enclave.wire.keys import (
    EnclaveOperationError,
    KeyDisabled,
    KeyId,
    KeyKind,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import Actions, Outcome, RequestMeta
from neo_service_layer.services.keys.rules import KeyNotUsable, check_batch, default_format
from neo_service_layer.services.keys.scopes import KEYS_SIGN
from neo_service_layer.services.keys.use_cases.tenant_keys import TenantKeys


@dataclass(frozen=True, slots=True)
class Signed:
    """Signatures made by one version of a key."""

    key_id: KeyId
    kind: KeyKind
    version: int
    public_key: bytes
    fmt: SignatureFormat
    signatures: list[bytes]


def message_digest(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


def batch_digest(messages: Sequence[bytes]) -> str:
    """SHA-256 over the concatenated SHA-256 of each message (what the audit log records)."""
    return hashlib.sha256(b"".join(hashlib.sha256(m).digest() for m in messages)).hexdigest()


class KeySigning:
    def __init__(self, *, keys: TenantKeys, enclave: Callable[[], Enclave]) -> None:
        self._keys = keys
        self._enclave = enclave

    async def sign(
        self,
        principal: Principal,
        key_id: KeyId,
        messages: Sequence[bytes],
        *,
        purpose: Purpose,
        fmt: SignatureFormat | None = None,
        version: int | None = None,
        network_magic: int | None = None,
        batch: bool = False,
        meta: RequestMeta = RequestMeta(),
    ) -> Signed:
        """Sign one message (or, with ``batch``, up to 100 in one enclave round trip).

        ``fmt`` defaults by key kind (``domain.key_lifecycle.default_format``).
        """
        principal.require(KEYS_SIGN)
        check_batch(len(messages))
        key = await self._keys.get(principal.tenant_id, key_id)
        fmt = fmt or default_format(key.kind)
        details = {
            "operation": "sign_batch" if batch else "sign",
            "purpose": purpose.value,
            "format": fmt.value,
            "count": str(len(messages)),
            "message_sha256": batch_digest(messages) if batch else message_digest(messages[0]),
        }
        try:
            number = key.sign_version(version)
            key.check_purpose(purpose)
            details["version"] = str(number)
            # the caller's API key goes along: a tenant enforcing enclave-checked credentials needs it
            enclave, tenant = self._enclave().with_credential(principal.credential), principal.tenant_id
            if batch:
                signatures = await enclave.sign_batch(
                    key_id,
                    messages,
                    tenant=tenant,
                    purpose=purpose,
                    fmt=fmt,
                    version=number,
                    network_magic=network_magic,
                )
            else:
                one = await enclave.sign(
                    key_id,
                    messages[0],
                    tenant=tenant,
                    purpose=purpose,
                    fmt=fmt,
                    version=number,
                    network_magic=network_magic,
                )
                signatures = [one]
        except (KeyNotUsable, EnclaveOperationError) as exc:
            denied = isinstance(exc, KeyNotUsable | PolicyDenied | KeyDisabled)
            details["reason"] = type(exc).__name__
            outcome = Outcome.DENIED if denied else Outcome.FAILURE
            await self._keys.record(
                principal.tenant_id, principal.actor, Actions.KEY_USE, key_id, meta, details, outcome
            )
            raise
        await self._keys.record(principal.tenant_id, principal.actor, Actions.KEY_USE, key_id, meta, details)
        return Signed(key_id, key.kind, number, key.version(number).public_key, fmt, signatures)
