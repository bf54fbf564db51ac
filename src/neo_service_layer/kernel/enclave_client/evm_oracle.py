"""The enclave client's part for EVM (Neo X) oracle answers: ``oracle_evm_fetch`` over the transport.

Kept apart from ``client.py`` (one concept per module); ``EnclaveClient`` mixes it in. Not part of the
``Enclave`` port: the code that answers EVM oracle requests depends on :class:`EvmOracleEnclave` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from opentelemetry.trace import SpanKind

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, KeyId, KeyNotLoaded, TenantId
from neo_service_layer.enclave.wire.oracle import FetchSpec, ResultCode, SealedSecret
from neo_service_layer.enclave.wire.oracle_evm import EvmOracleFacts, SignedEvmOracleAnswer
from neo_service_layer.kernel.enclave_client.ports import SealedRecordLoader
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected, EnclaveTransport
from neo_service_layer.kernel.observability.tracing import traced

OP = "oracle_evm_fetch"


class EvmOracleEnclave(Protocol):
    """What answering an EVM oracle request needs from the enclave."""

    async def oracle_evm_fetch(
        self,
        facts: EvmOracleFacts,
        spec: FetchSpec,
        *,
        tenant: TenantId,
        key_id: KeyId,
        key_version: int | None = None,
        secrets: Sequence[SealedSecret] = (),
    ) -> SignedEvmOracleAnswer:
        """The enclave fetches ``spec`` (its URL is the request's, or the spec of the request's
        ``nsl://template/`` URL), filters and signs the answer for ``facts``.

        Raises:
            PolicyDenied: a key without purpose oracle-evm. InvalidKeyRequest: malformed facts, a spec
            that is not the request's, a secret not pinned to the URL's host.
        """
        ...

    async def oracle_evm_refuse(
        self, facts: EvmOracleFacts, code: ResultCode, *, key_id: KeyId, key_version: int | None = None
    ) -> SignedEvmOracleAnswer:
        """A signed refusal (``code``, not ``SUCCESS``; empty result) for ``facts``; nothing is fetched."""
        ...


def _facts_args(facts: EvmOracleFacts) -> dict[str, Any]:
    return {
        "chain_id": facts.chain_id,
        "contract": b64encode(facts.contract),
        "request_id": facts.request_id,
        "consumer": b64encode(facts.consumer),
        "request_url": facts.url,
        "filter": facts.filter,
    }


def _answer(r: dict[str, Any]) -> SignedEvmOracleAnswer:
    status, content_type = r.get("status"), r.get("content_type")
    facts = EvmOracleFacts(
        chain_id=int(r["chain_id"]),
        contract=b64decode(r["contract"]),
        request_id=int(r["request_id"]),
        consumer=b64decode(r["consumer"]),
        url=str(r["url"]),
        filter=str(r["filter"]),
    )
    return SignedEvmOracleAnswer(
        facts=facts,
        code=ResultCode(int(r["code"])),
        result=b64decode(r["result"]),
        timestamp_ms=int(r["timestamp"]),
        signature=b64decode(r["signature"]),
        key_id=str(r["key_id"]),
        key_version=int(r["key_version"]),
        public_key=b64decode(r["public_key"]),
        status=None if status is None else int(status),
        content_type=None if content_type is None else str(content_type),
        detail=str(r.get("detail", "")),
    )


class EvmOracleCalls:
    """Mixed into ``EnclaveClient``: uses its transport, timeout and sealed-record loader."""

    _transport: EnclaveTransport
    _timeout: float
    _loader: SealedRecordLoader | None

    async def oracle_evm_fetch(
        self,
        facts: EvmOracleFacts,
        spec: FetchSpec,
        *,
        tenant: TenantId,
        key_id: KeyId,
        key_version: int | None = None,
        secrets: Sequence[SealedSecret] = (),
    ) -> SignedEvmOracleAnswer:
        args = {
            **_facts_args(facts),
            "tenant": tenant,
            "key_id": key_id,
            "key_version": key_version,
            "request": spec.to_dict(),
            "secrets": [{"name": s.name, "version": s.version, "blob": b64encode(s.blob)} for s in secrets],
        }
        timeout = max(self._timeout, spec.timeout_seconds + 5.0)  # the fetch itself may take that long
        return await self._evm_oracle_call(args, key_id, key_version, timeout)

    async def oracle_evm_refuse(
        self, facts: EvmOracleFacts, code: ResultCode, *, key_id: KeyId, key_version: int | None = None
    ) -> SignedEvmOracleAnswer:
        args = {
            **_facts_args(facts),
            "code": int(code),
            "tenant": PLATFORM_KEY_OWNER,  # a refusal unseals nothing
            "key_id": key_id,
            "key_version": key_version,
        }
        return await self._evm_oracle_call(args, key_id, key_version, self._timeout)

    async def _evm_oracle_call(
        self, args: dict[str, Any], key_id: KeyId, key_version: int | None, timeout: float
    ) -> SignedEvmOracleAnswer:
        call = self._transport.call
        async with traced(f"enclave.{OP}", {"rpc.system": "nsl-enclave"}, kind=SpanKind.CLIENT):
            try:
                result = await call(OP, args, idempotent=False, timeout=timeout)
            except KeyNotLoaded:  # checked before the fetch: load the sealed key and ask again
                if self._loader is None:
                    raise
                record = await self._loader(key_id, key_version)
                await call(
                    "load_key", {"key_id": key_id, "sealed_record": b64encode(record)}, idempotent=True
                )
                result = await call(OP, args, idempotent=False, timeout=timeout)
        try:
            return _answer(result)
        except (KeyError, TypeError, ValueError, InvalidInput):
            raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None
