"""Client of the enclave RPC: implements the ``Enclave`` port over the enclave's Unix socket.

Connections are pooled (one request in flight per connection). A key the enclave has not loaded
(``KeyNotLoaded``) is fetched through the ``loader`` callback (sealed record from the database),
loaded, and the call retried once. Unreachable or silent enclave: ``EnclaveUnavailable`` /
``EnclaveTimeout``; refusals: the domain errors of ``domain.keys``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.trace import SpanKind

from neo_service_layer.enclave import bls
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode, pack_blobs, unpack_blobs
from neo_service_layer.enclave.wire.keys import (
    KeyId,
    KeyInfo,
    KeyKind,
    KeyNotLoaded,
    KeyPolicy,
    Purpose,
    SealedKey,
    SignatureFormat,
    TenantId,
)
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    OracleResponse,
    ResultCode,
    SealedSecret,
)
from neo_service_layer.enclave.wire.protocol import UnknownOp, key_info_from_wire, sealed_key_from_wire
from neo_service_layer.enclave.wire.randomness import RandomnessFacts, SignedRandomness
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.enclave_client.compute_calls import ComputeCalls
from neo_service_layer.kernel.enclave_client.crosschain import CrossChainCalls
from neo_service_layer.kernel.enclave_client.evm_oracle import EvmOracleCalls
from neo_service_layer.kernel.enclave_client.evm_randomness import EvmRandomnessCalls
from neo_service_layer.kernel.enclave_client.evm_transactions import EvmTransactionCalls
from neo_service_layer.kernel.enclave_client.feed_rounds import FeedRoundCalls
from neo_service_layer.kernel.enclave_client.job_calls import JobCalls
from neo_service_layer.kernel.enclave_client.native_oracle import NativeOracleCalls
from neo_service_layer.kernel.enclave_client.oracle_wire import facts_args, oracle_response
from neo_service_layer.kernel.enclave_client.ports import (
    AttestationReport,
    EnclaveStatus,
    EnclaveTimeout,
    EnclaveUnavailable,
    MigrationExport,
    SealedRecordLoader,
)
from neo_service_layer.kernel.enclave_client.transactions import TransactionCalls
from neo_service_layer.kernel.enclave_client.transport import EnclaveRequestRejected, EnclaveTransport
from neo_service_layer.kernel.observability.tracing import traced


class EnclaveClient(
    ComputeCalls,
    CrossChainCalls,
    EvmOracleCalls,
    EvmRandomnessCalls,
    EvmTransactionCalls,
    FeedRoundCalls,
    JobCalls,
    NativeOracleCalls,
    TransactionCalls,
):
    """Async ``Enclave`` implementation over a Unix socket with a small connection pool."""

    def __init__(
        self,
        endpoint: Path | str | tuple[str, int],
        token: str,
        *,
        loader: SealedRecordLoader | None = None,
        pool_size: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self._loader = loader
        self._timeout = timeout
        self._packed_batches = True  # until the enclave answers that it does not know the op
        address = endpoint if isinstance(endpoint, tuple) else str(endpoint)
        self._transport = EnclaveTransport(address, token, pool_size=pool_size, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings, loader: SealedRecordLoader | None = None) -> EnclaveClient:
        if settings.enclave_token is None:
            raise ValueError("NSL_ENCLAVE_TOKEN is not set")
        endpoint: Path | tuple[str, int] = settings.enclave_tcp_address or settings.effective_enclave_socket
        return cls(
            endpoint,
            settings.enclave_token.get_secret_value(),
            loader=loader,
            timeout=settings.enclave_timeout_seconds,
        )

    async def close(self) -> None:
        """Close idle pooled connections."""
        await self._transport.close()

    # Port operations ------------------------------------------------------------------------------

    async def status(self) -> EnclaveStatus:
        r = await self._call("status", {}, idempotent=True)
        return EnclaveStatus(r["platform"], r["mode"], int(r["protocol_version"]), int(r["loaded_keys"]))

    async def create_key(self, kind: KeyKind, policy: KeyPolicy) -> SealedKey:
        args = {"kind": kind.value, "policy": policy.to_dict()}
        return _decode(sealed_key_from_wire, await self._call("create_key", args, idempotent=False))

    async def load_key(self, key_id: KeyId, sealed_record: bytes) -> KeyInfo:
        args = {"key_id": key_id, "sealed_record": b64encode(sealed_record)}
        return _decode(key_info_from_wire, await self._call("load_key", args, idempotent=True))

    async def public_key(self, key_id: KeyId, version: int | None = None) -> KeyInfo:
        args = {"key_id": key_id, "version": version}
        return _decode(key_info_from_wire, await self._keyed("public_key", key_id, version, args))

    async def sign(
        self,
        key_id: KeyId,
        message: bytes,
        *,
        tenant: TenantId,
        purpose: Purpose,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> bytes:
        args = _sign_args(key_id, tenant, purpose, fmt, version, network_magic)
        args["message"] = b64encode(message)
        result = await self._keyed("sign", key_id, version, args)
        return _decode(lambda r: b64decode(r["signature"]), result)

    async def sign_batch(
        self,
        key_id: KeyId,
        messages: Sequence[bytes],
        *,
        tenant: TenantId,
        purpose: Purpose,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> list[bytes]:
        args = _sign_args(key_id, tenant, purpose, fmt, version, network_magic)
        if self._packed_batches:
            args["messages"] = b64encode(pack_blobs(messages))
            try:
                result = await self._keyed("sign_batch_packed", key_id, version, args)
            except EnclaveRequestRejected as exc:
                if exc.code != UnknownOp.code:
                    raise
                self._packed_batches = False  # an enclave of an older release: lists of strings
            else:
                return _decode(lambda r: unpack_blobs(b64decode(r["signatures"])), result)
        args["messages"] = [b64encode(m) for m in messages]
        result = await self._keyed("sign_batch", key_id, version, args)
        return _decode(lambda r: [b64decode(s) for s in r["signatures"]], result)

    async def randomness_fulfil(
        self,
        *,
        bls_key_id: KeyId,
        ecdsa_key_id: KeyId,
        items: Sequence[RandomnessFacts],
        tenant: TenantId,
    ) -> list[SignedRandomness]:
        args = {
            "tenant": tenant,
            "bls_key_id": bls_key_id,
            "ecdsa_key_id": ecdsa_key_id,
            "items": [
                {
                    "magic": f.magic,
                    "contract": b64encode(f.contract),
                    "request_id": f.request_id,
                    "consumer": b64encode(f.consumer),
                    "seed": b64encode(f.seed),
                }
                for f in items
            ],
        }
        result = await self._with_keys("randomness_fulfil", (bls_key_id, ecdsa_key_id), args)
        return _decode(
            lambda r: [
                SignedRandomness(b64decode(x["output"]), b64decode(x["proof"]), b64decode(x["signature"]))
                for x in r["results"]
            ],
            result,
        )

    async def rotate(self, key_id: KeyId, *, tenant: TenantId) -> SealedKey:
        if self._loader is not None:  # rotate from the newest stored version, whatever is loaded
            await self.load_key(key_id, await self._loader(key_id, None))
        result = await self._keyed(
            "rotate", key_id, None, {"key_id": key_id, "tenant": tenant}, idempotent=False
        )
        return _decode(sealed_key_from_wire, result)

    async def disable(self, key_id: KeyId, *, tenant: TenantId) -> list[SealedKey]:
        result = await self._keyed("disable", key_id, None, {"key_id": key_id, "tenant": tenant})
        return _decode(lambda r: [sealed_key_from_wire(k) for k in r["keys"]], result)

    async def enable(self, key_id: KeyId, *, tenant: TenantId) -> list[SealedKey]:
        result = await self._keyed("enable", key_id, None, {"key_id": key_id, "tenant": tenant})
        return _decode(lambda r: [sealed_key_from_wire(k) for k in r["keys"]], result)

    async def destroy(self, key_id: KeyId, *, tenant: TenantId) -> None:
        await self._keyed("destroy", key_id, None, {"key_id": key_id, "tenant": tenant})

    async def seal(self, tenant: TenantId, label: str, plaintext: bytes) -> bytes:
        args = {"tenant": tenant, "label": label, "plaintext": b64encode(plaintext)}
        return _decode(lambda r: b64decode(r["blob"]), await self._call("seal", args, idempotent=True))

    async def unseal(self, tenant: TenantId, label: str, blob: bytes) -> bytes:
        args = {"tenant": tenant, "label": label, "blob": b64encode(blob)}
        return _decode(lambda r: b64decode(r["plaintext"]), await self._call("unseal", args, idempotent=True))

    async def webhook_sign(
        self, key_id: KeyId, *, tenant: TenantId, subscription: str, msg_id: str, timestamp: int, body: bytes
    ) -> bytes:
        args = {
            "tenant": tenant,
            "key_id": key_id,
            "subscription": subscription,
            "msg_id": msg_id,
            "timestamp": timestamp,
            "body": b64encode(body),
        }
        result = await self._keyed("webhook_sign", key_id, None, args)
        return _decode(lambda r: b64decode(r["signature"]), result)

    async def random(self, n: int) -> bytes:
        return _decode(lambda r: b64decode(r["bytes"]), await self._call("random", {"n": n}, idempotent=True))

    async def attest(self, nonce: bytes, key_ids: Sequence[KeyId] = ()) -> AttestationReport:
        for key_id in key_ids:  # make sure each bound key is loaded (re-provisioned if needed)
            await self.public_key(key_id)
        args = {"nonce": b64encode(nonce), "key_ids": list(key_ids)}
        report = (await self._call("attest", args, idempotent=True)).get("report")
        if not isinstance(report, dict):
            raise EnclaveRequestRejected("bad_response", "attest answered without a report")
        return report

    def bls_message_point(self, message: bytes) -> bytes:
        return bls.message_point(message)

    async def oracle_fetch(
        self,
        facts: OracleFacts,
        spec: FetchSpec,
        *,
        tenant: TenantId,
        key_id: KeyId,
        key_tenant: TenantId,
        key_version: int | None = None,
        secrets: Sequence[SealedSecret] = (),
    ) -> OracleResponse:
        args = {
            **facts_args(facts),
            "tenant": tenant,
            "key_id": key_id,
            "key_tenant": key_tenant,
            "key_version": key_version,
            "request": spec.to_dict(),
            "secrets": [{"name": s.name, "version": s.version, "blob": b64encode(s.blob)} for s in secrets],
        }
        timeout = max(self._timeout, spec.timeout_seconds + 5.0)  # the fetch itself may take that long
        return await self._oracle_call(args, key_id, key_version, timeout)

    async def oracle_refuse(
        self,
        facts: OracleFacts,
        code: ResultCode,
        *,
        key_id: KeyId,
        key_tenant: TenantId,
        key_version: int | None = None,
    ) -> OracleResponse:
        args = {
            **facts_args(facts),
            "code": int(code),
            "tenant": key_tenant,
            "key_id": key_id,
            "key_tenant": key_tenant,
            "key_version": key_version,
        }
        return await self._oracle_call(args, key_id, key_version, self._timeout)

    async def _oracle_call(
        self, args: dict[str, Any], key_id: KeyId, key_version: int | None, timeout: float
    ) -> OracleResponse:
        call, args = self._transport.call, self._with_credential_args(args)
        async with traced("enclave.oracle_fetch", {"rpc.system": "nsl-enclave"}, kind=SpanKind.CLIENT):
            try:
                result = await call("oracle_fetch", args, idempotent=False, timeout=timeout)
            except KeyNotLoaded:  # checked before the fetch: load the sealed key and ask again
                if self._loader is None:
                    raise
                await self.load_key(key_id, await self._loader(key_id, key_version))
                result = await call("oracle_fetch", args, idempotent=False, timeout=timeout)
        return _decode(oracle_response, result)

    # Key migration (``ports.enclave.KeyMigrationEnclave``) -----------------------------------------

    async def migration_offer(self) -> Mapping[str, Any]:
        return _decode(lambda r: dict(r["offer"]), await self._call("migration_offer", {}, idempotent=False))

    async def migration_export(
        self, offer: Mapping[str, Any], records: Sequence[tuple[KeyId, int, bytes]]
    ) -> MigrationExport:
        args = {
            "offer": dict(offer),
            "records": [
                {"key_id": key_id, "version": version, "sealed_record": b64encode(record)}
                for key_id, version, record in records
            ],
        }
        return _decode(_migration_export, await self._call("migration_export", args, idempotent=True))

    async def migration_import(self, bundle: Mapping[str, Any]) -> list[SealedKey]:
        result = await self._call("migration_import", {"bundle": dict(bundle)}, idempotent=False)
        return _decode(lambda r: [sealed_key_from_wire(k) for k in r["keys"]], result)

    async def _call(self, op: str, args: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        async with traced(f"enclave.{op}", {"rpc.system": "nsl-enclave"}, kind=SpanKind.CLIENT):
            return await self._transport.call(op, self._with_credential_args(args), idempotent=idempotent)

    # Transport ------------------------------------------------------------------------------------

    async def _with_keys(self, op: str, key_ids: Sequence[KeyId], args: dict[str, Any]) -> dict[str, Any]:
        """Call ``op`` (idempotent); on ``KeyNotLoaded`` load the newest sealed record of each of
        ``key_ids`` through the loader and retry once (an op that uses several keys)."""
        try:
            return await self._call(op, args, idempotent=True)
        except KeyNotLoaded:
            if self._loader is None:
                raise
            for key_id in key_ids:
                await self.load_key(key_id, await self._loader(key_id, None))
        return await self._call(op, args, idempotent=True)

    async def _keyed(
        self, op: str, key_id: KeyId, version: int | None, args: dict[str, Any], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """Call ``op``; on ``KeyNotLoaded`` load the sealed record through the loader and retry once."""
        try:
            return await self._call(op, args, idempotent=idempotent)
        except KeyNotLoaded:
            if self._loader is None:
                raise
            record = await self._loader(key_id, version)
        await self.load_key(key_id, record)
        return await self._call(op, args, idempotent=idempotent)


def _sign_args(
    key_id: KeyId,
    tenant: TenantId,
    purpose: Purpose,
    fmt: SignatureFormat,
    version: int | None,
    network_magic: int | None,
) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "tenant": tenant,
        "purpose": purpose.value,
        "format": fmt.value,
        "version": version,
        "network_magic": network_magic,
    }


def _migration_export(r: dict[str, Any]) -> MigrationExport:
    return MigrationExport(
        bundle=dict(r["bundle"]),
        exported=[(str(e["key_id"]), int(e["version"])) for e in r["exported"]],
        skipped=[
            (str(s["key_id"]), None if s.get("version") is None else int(s["version"]), str(s["reason"]))
            for s in r["skipped"]
        ],
    )


def _decode[T](parse: Callable[[dict[str, Any]], T], result: dict[str, Any]) -> T:
    try:
        return parse(result)
    except (KeyError, TypeError, ValueError):
        raise EnclaveRequestRejected("bad_response", "enclave answer is missing fields") from None


__all__ = ["EnclaveClient", "EnclaveRequestRejected", "EnclaveTimeout", "EnclaveUnavailable"]
