"""The enclave client's part for confidential compute: ``compute_load`` in chunks and ``compute_run``.

Kept apart from ``client.py`` (one concept per module); ``EnclaveClient`` mixes it in. A run the enclave
answers with ``ArtifactNotLoaded`` (a new or restarted enclave) gets the artefact sent through the
caller's ``artifact`` callback and is asked again, once; a ``KeyNotLoaded`` gets the key loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from opentelemetry.trace import SpanKind

from neo_service_layer.enclave.wire.compute import ComputeFacts, ComputeRun
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import ArtifactNotLoaded, KeyId, KeyNotLoaded, TenantId
from neo_service_layer.enclave.wire.oracle import SealedSecret
from neo_service_layer.kernel.enclave_client.credentials import CredentialCalls
from neo_service_layer.kernel.enclave_client.ports import SealedRecordLoader
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected, EnclaveTransport
from neo_service_layer.kernel.observability.tracing import traced

#: raw bytes per ``compute_load`` frame (base64 keeps it under the protocol's 1 MiB frame)
CHUNK_BYTES = 512 * 1024
#: compiling an 18 MB Python component takes about 20 s of CPU; a loaded machine more
COMPILE_TIMEOUT_SECONDS = 300.0

ArtifactSource = Callable[[], Awaitable[bytes]]


class ComputeCalls(CredentialCalls):
    """Mixed into ``EnclaveClient``: uses its transport, timeout, sealed-record loader, and the caller's
    credential (an enforcing tenant's secrets reach a run only with one of its keys)."""

    _transport: EnclaveTransport
    _timeout: float
    _loader: SealedRecordLoader | None

    async def compute_load(self, data: bytes) -> str:
        """Send an artefact; the enclave hashes and compiles it. Returns its SHA-256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        async with traced("enclave.compute_load", {"rpc.system": "nsl-enclave"}, kind=SpanKind.CLIENT):
            for offset in range(0, max(len(data), 1), CHUNK_BYTES):
                chunk = data[offset : offset + CHUNK_BYTES]
                last = offset + len(chunk) >= len(data)
                reply = await self._transport.call(
                    "compute_load",
                    {"digest": digest, "total": len(data), "offset": offset, "chunk": b64encode(chunk)},
                    idempotent=False,
                    timeout=COMPILE_TIMEOUT_SECONDS if last or offset == 0 else None,
                )
                if reply.get("complete"):
                    break
        return digest

    async def compute_run(
        self,
        *,
        tenant: TenantId,
        function_id: str,
        digest: str,
        input_text: str | None,
        limits: Mapping[str, int],
        secrets: Sequence[SealedSecret],
        key_id: KeyId,
        key_tenant: TenantId,
        artifact: ArtifactSource,
        chain: ComputeFacts | None = None,
        key_version: int | None = None,
    ) -> ComputeRun:
        """Run the artefact ``digest`` in the enclave and get the signed outcome (``docs/compute.md``)."""
        args: dict[str, Any] = {
            "tenant": tenant,
            "function_id": function_id,
            "digest": digest,
            "input": input_text if chain is None else "",
            "limits": dict(limits),
            "secrets": [{"name": s.name, "version": s.version, "blob": b64encode(s.blob)} for s in secrets],
            "key_id": key_id,
            "key_tenant": key_tenant,
            "key_version": key_version,
            "chain": None if chain is None else _chain_args(chain),
        }
        return await self._compute_call(args, key_id, key_version, artifact, limits.get("wall_ms", 60_000))

    async def compute_refuse(
        self, chain: ComputeFacts, code: int, detail: str, *, key_id: KeyId, key_tenant: TenantId
    ) -> ComputeRun:
        """A signed answer to an on-chain request without running anything (``NOT_FOUND``/``BAD_INPUT``)."""
        args: dict[str, Any] = {
            "tenant": key_tenant,
            "function_id": chain.function_id,
            "refuse": code,
            "detail": detail,
            "key_id": key_id,
            "key_tenant": key_tenant,
            "chain": _chain_args(chain),
        }
        return await self._compute_call(args, key_id, None, _no_artifact, 0)

    async def _compute_call(
        self,
        args: dict[str, Any],
        key_id: KeyId,
        key_version: int | None,
        artifact: ArtifactSource,
        wall_ms: int,
    ) -> ComputeRun:
        timeout = max(self._timeout, wall_ms / 1000 + 10.0)
        async with traced("enclave.compute_run", {"rpc.system": "nsl-enclave"}, kind=SpanKind.CLIENT):
            for attempt in range(3):
                try:
                    result = await self._transport.call(
                        "compute_run", self._with_credential_args(args), idempotent=False, timeout=timeout
                    )
                    break
                except ArtifactNotLoaded:
                    if attempt == 2:
                        raise
                    await self.compute_load(await artifact())
                except KeyNotLoaded:
                    if self._loader is None or attempt == 2:
                        raise
                    record = await self._loader(key_id, key_version)
                    await self._transport.call(
                        "load_key", {"key_id": key_id, "sealed_record": b64encode(record)}, idempotent=True
                    )
        return _run(result)


def _chain_args(chain: ComputeFacts) -> dict[str, Any]:
    return {
        "magic": chain.magic,
        "contract": b64encode(chain.contract),
        "request_id": chain.request_id,
        "consumer": b64encode(chain.consumer),
        "args": b64encode(chain.args),
    }


async def _no_artifact() -> bytes:
    raise EnclaveRequestRejected("bad_response", "a refusal runs no artefact")


def _run(result: Mapping[str, Any]) -> ComputeRun:
    try:
        return ComputeRun(
            code=int(result["code"]),
            result=b64decode(result["result"]),
            detail=str(result["detail"]),
            timestamp_ms=int(result["timestamp"]),
            function_hash=bytes.fromhex(result["function_hash"]),
            fuel_used=int(result["fuel_used"]),
            wall_ms=int(result["wall_ms"]),
            fetches=int(result["fetches"]),
            log=str(result["log"]),
            limits={str(k): int(v) for k, v in dict(result["limits"]).items()},
            signature=b64decode(result["signature"]),
            key_id=str(result["key_id"]),
            key_version=int(result["key_version"]),
            public_key=b64decode(result["public_key"]),
        )
    except (KeyError, TypeError, ValueError):
        raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None
