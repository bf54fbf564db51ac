"""The enclave client's part for price feed rounds: ``Enclave.feed_round`` over the client's transport.

Kept apart from ``client.py`` (one concept per module); ``EnclaveClient`` mixes it in.
"""

from __future__ import annotations

from decimal import InvalidOperation
from typing import Any

from opentelemetry.trace import SpanKind

from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.feeds import (
    SOURCE_TIMEOUT_SECONDS,
    FeedRound,
    FeedRoundFacts,
    FeedSources,
)
from neo_service_layer.enclave.wire.keys import KeyId, KeyNotLoaded, TenantId
from neo_service_layer.kernel.enclave_client.ports import SealedRecordLoader
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected, EnclaveTransport
from neo_service_layer.kernel.observability.tracing import traced


class FeedRoundCalls:
    """Mixed into ``EnclaveClient``: uses its transport, timeout and sealed-record loader."""

    _transport: EnclaveTransport
    _timeout: float
    _loader: SealedRecordLoader | None

    async def feed_round(
        self,
        facts: FeedRoundFacts,
        sources: FeedSources,
        *,
        key_id: KeyId,
        key_tenant: TenantId,
        key_version: int | None = None,
    ) -> FeedRound:
        args: dict[str, Any] = {
            "facts": facts.to_dict(),
            "sources": sources.to_dict(),
            "key_id": key_id,
            "key_tenant": key_tenant,
            "key_version": key_version,
        }
        timeout = max(self._timeout, SOURCE_TIMEOUT_SECONDS + 5.0)  # the sources are fetched meanwhile
        call = self._transport.call
        async with traced("enclave.feed_round", {"rpc.system": "nsl-enclave"}, kind=SpanKind.CLIENT):
            try:
                result = await call("feed_round", args, idempotent=False, timeout=timeout)
            except KeyNotLoaded:  # checked before the fetches: load the sealed key and ask again
                if self._loader is None:
                    raise
                record = await self._loader(key_id, key_version)
                await call(
                    "load_key", {"key_id": key_id, "sealed_record": b64encode(record)}, idempotent=True
                )
                result = await call("feed_round", args, idempotent=False, timeout=timeout)
        try:
            return FeedRound.from_dict(result)
        except (KeyError, TypeError, ValueError, InvalidOperation, InvalidInput):
            raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None
