"""The enclave client's part for Neo's native Oracle: ``Enclave.native_oracle_respond`` over the
client's transport.

Kept apart from ``client.py`` (one concept per module); ``EnclaveClient`` mixes it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import SpanKind

from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import KeyId, KeyNotLoaded
from neo_service_layer.enclave.wire.native_oracle import NativeResponse
from neo_service_layer.enclave.wire.oracle import DEFAULT_TIMEOUT_SECONDS
from neo_service_layer.kernel.enclave_client.ports import SealedRecordLoader
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected, EnclaveTransport
from neo_service_layer.kernel.observability.tracing import traced


class NativeOracleCalls:
    """Mixed into ``EnclaveClient``: uses its transport, timeout and sealed-record loader."""

    _transport: EnclaveTransport
    _timeout: float
    _loader: SealedRecordLoader | None

    async def native_oracle_respond(
        self, key_id: KeyId, *, magic: int, request_ids: Sequence[int], valid_until_blocks: int
    ) -> list[NativeResponse]:
        args: dict[str, Any] = {
            "key_id": key_id,
            "magic": magic,
            "request_ids": list(request_ids),
            "valid_until_blocks": valid_until_blocks,
        }
        # the URLs are fetched meanwhile, and the request, the designation and the fees read
        timeout = max(self._timeout, DEFAULT_TIMEOUT_SECONDS + 10.0)
        call = self._transport.call
        async with traced(
            "enclave.native_oracle_respond", {"rpc.system": "nsl-enclave"}, kind=SpanKind.CLIENT
        ):
            try:
                result = await call("native_oracle_respond", args, idempotent=False, timeout=timeout)
            except KeyNotLoaded:  # checked before any read or fetch: load the sealed key and ask again
                if self._loader is None:
                    raise
                record = await self._loader(key_id, None)
                await call(
                    "load_key", {"key_id": key_id, "sealed_record": b64encode(record)}, idempotent=True
                )
                result = await call("native_oracle_respond", args, idempotent=False, timeout=timeout)
        try:
            return [NativeResponse.from_wire(item) for item in result["responses"]]
        except (KeyError, TypeError, ValueError):
            raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None
