"""Building the idempotency use case of a process from its container."""

from __future__ import annotations

from datetime import timedelta

from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.idempotency.adapters import SqlKeyStore
from neo_service_layer.kernel.idempotency.use_cases import Idempotency
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek

#: the HMAC purpose of body fingerprints (a sub-key of the KEK of its own)
FINGERPRINT_PURPOSE = "idempotency-fingerprint"


def idempotency_of(container: Container) -> Idempotency:
    box = AesGcmBox(resolve_kek(container.settings))

    def pepper(digest: str) -> str:
        return box.mac(FINGERPRINT_PURPOSE, digest)

    return Idempotency(
        SqlKeyStore(container.engine),
        container.clock,
        ttl=timedelta(seconds=container.settings.idempotency_ttl_seconds),
        pepper=pepper,
    )
