"""The enclave's compute operations: ``compute_load`` (send an artefact in chunks; the enclave hashes and
compiles it) and ``compute_run`` (run it for a tenant and sign what happened).

``compute_load`` arguments: ``{"digest": hex SHA-256, "total": int, "offset": int, "chunk": b64}``;
chunks arrive in order; the last one makes the enclave check the digest and compile. Result:
``{"digest", "received", "complete", "kind"?}``.

``compute_run`` arguments::

    {"tenant": str, "function_id": str, "digest": hex, "input": str (JSON text),
     "limits": {name: int} | null, "secrets": [{"name", "version", "blob": b64}, ...],
     "key_id": str, "key_tenant": str, "key_version": int | null,
     "chain": {"magic": int, "contract": b64, "request_id": int, "consumer": b64, "args": b64} | null}

Without ``chain`` the enclave signs an off-chain receipt (``receipt_message``); with it, the on-chain
answer (``answer_message``), whose input is the request's ``args`` (UTF-8 JSON). Secrets are the
tenant's (label ``secret:<name>:v<version>``), unsealed here for this run only. ``ArtifactNotLoaded``
asks the host to send the artefact first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.compute import sandbox
from neo_service_layer.enclave.compute.artifacts import ComputeEngine
from neo_service_layer.enclave.compute.host import SecretValue
from neo_service_layer.enclave.compute.limits import (
    DEFAULT_LIMITS,
    DEFAULT_MAXIMA,
    RunLimits,
    requested_limits,
)
from neo_service_layer.enclave.compute.pool import ArtifactMissing, RunRequest, SandboxPool
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.compute import (
    MAX_RESULT_BYTES,
    NO_FUNCTION,
    ComputeCode,
    ComputeFacts,
    ReceiptFacts,
    answer_message,
    receipt_message,
)
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import (
    ArtifactNotLoaded,
    InvalidKeyRequest,
    KeyKind,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
    check_name,
)
from neo_service_layer.enclave.wire.protocol import Args, BadRequest
from neo_service_layer.enclave.wire.secret_labels import InvalidSecretInput, open_payload, seal_label

log = logging.getLogger(__name__)

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
MAX_STAGED = 4
MAX_INPUT_BYTES = 1024 * 1024
MAX_SECRETS = 16


@dataclass(frozen=True, slots=True)
class ComputePolicy:
    """The operator's maxima and defaults, and how many runs go at once."""

    maxima: RunLimits = DEFAULT_MAXIMA
    defaults: RunLimits = DEFAULT_LIMITS
    concurrency: int = 2


class _Staged:
    def __init__(self, total: int) -> None:
        self.total = total
        self.data = bytearray()
        self.touched = time.monotonic()


class ComputeOps:
    """Holds the engine, the chunks being received, and the run slots."""

    def __init__(
        self,
        engine: ComputeEngine,
        keys: KeyStore,
        sealer: Sealer,
        pool: SandboxPool,
        policy: ComputePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._sealer = sealer
        self._pool = pool
        self._policy = policy or ComputePolicy()
        self._clock = clock
        self._staged: dict[bytes, _Staged] = {}

    async def load(self, args: Args) -> dict[str, Any]:
        digest = _digest(args.text("digest"))
        total, offset, chunk = args.integer("total"), args.integer("offset"), args.blob("chunk")
        if not 8 <= total <= MAX_ARTIFACT_BYTES:
            raise InvalidKeyRequest(f"an artefact is 8 to {MAX_ARTIFACT_BYTES} bytes, not {total}")
        if offset == 0 and self._engine.has(digest):
            return {"digest": digest.hex(), "received": total, "complete": True}
        staged = self._staged.get(digest)
        if offset == 0:
            self._evict()
            staged = self._staged[digest] = _Staged(total)
        if staged is None or staged.total != total or len(staged.data) != offset:
            raise InvalidKeyRequest("chunks must arrive in order from offset 0")
        if offset + len(chunk) > total:
            raise InvalidKeyRequest("chunk goes past the artefact's total size")
        staged.data.extend(chunk)
        staged.touched = time.monotonic()
        if len(staged.data) < total:
            return {"digest": digest.hex(), "received": len(staged.data), "complete": False}
        del self._staged[digest]
        data = bytes(staged.data)
        if hashlib.sha256(data).digest() != digest:
            raise InvalidKeyRequest("the artefact's SHA-256 is not the digest it was sent under")
        artifact = await asyncio.to_thread(self._engine.compile, data)
        return {"digest": digest.hex(), "received": total, "complete": True, "kind": artifact.kind.value}

    def _evict(self) -> None:
        """Drop the oldest staged uploads beyond ``MAX_STAGED`` (an abandoned upload cannot hold memory)."""
        while len(self._staged) >= MAX_STAGED:
            oldest = min(self._staged, key=lambda d: self._staged[d].touched)
            del self._staged[oldest]

    async def run(self, args: Args) -> dict[str, Any]:
        tenant = check_name(args.text("tenant"), "tenant")
        function_id = args.text("function_id")
        facts = _chain_facts(args, function_id)
        key_id, key_tenant, key_version = (
            args.text("key_id"),
            args.text("key_tenant"),
            args.opt_integer("key_version"),
        )
        info = self._keys.info(key_id, key_version)  # fail before running if the key is not loaded
        if info.kind is not KeyKind.SECP256R1:
            raise InvalidKeyRequest("the compute key must be a secp256r1 key")
        limits = requested_limits(args.opt_mapping("limits"), self._policy.maxima, self._policy.defaults)
        refusal = args.opt_integer("refuse")
        digest = NO_FUNCTION
        if refusal is not None:  # nothing runs: an on-chain request for no runnable function
            if facts is None or refusal not in (ComputeCode.NOT_FOUND, ComputeCode.BAD_INPUT):
                raise InvalidKeyRequest("a refusal is NOT_FOUND or BAD_INPUT for an on-chain request")
            outcome = _refused(ComputeCode(refusal), args.opt_text("detail") or "")
        else:
            digest = _digest(args.text("digest"))
            input_text = args.text("input") if facts is None else None
            if not self._engine.has(digest):
                raise _not_loaded(digest)
            try:
                outcome = await self._outcome(
                    digest, tenant, input_text, facts, limits, args.opt_list("secrets")
                )
            except ArtifactMissing:  # the sealed compiled form is unreadable: compile it again
                raise _not_loaded(digest) from None
        timestamp = int(self._clock() * 1000)
        function_hash = digest
        if facts is None:
            message = receipt_message(
                ReceiptFacts(
                    tenant=tenant,
                    function_id=function_id,
                    function_hash=function_hash,
                    input_hash=hashlib.sha256(args.text("input").encode()).digest(),
                    code=int(outcome.code),
                    timestamp_ms=timestamp,
                    result_hash=hashlib.sha256(outcome.result).digest(),
                )
            )
        else:
            if len(outcome.result) > MAX_RESULT_BYTES:  # more than any compute contract takes
                outcome = _refused(
                    ComputeCode.RESULT_TOO_LARGE,
                    f"result of {len(outcome.result)} bytes is above the on-chain maximum {MAX_RESULT_BYTES}",
                )
            message = answer_message(facts, int(outcome.code), timestamp, function_hash, outcome.result)
        (signature,) = self._keys.sign_for_operation(
            key_id,
            [message],
            tenant=key_tenant,
            purpose=Purpose.COMPUTE,
            fmt=SignatureFormat.ECDSA_SHA256,
            version=info.version,
        )
        log.info(
            "compute run", extra={"code": outcome.code.name, "fuel": outcome.fuel_used, "ms": outcome.wall_ms}
        )
        return {
            "code": int(outcome.code),
            "result": b64encode(outcome.result),
            "detail": outcome.detail,
            "timestamp": timestamp,
            "function_hash": function_hash.hex(),
            "fuel_used": outcome.fuel_used,
            "wall_ms": outcome.wall_ms,
            "fetches": outcome.fetches,
            "log": outcome.log,
            "limits": limits.to_dict(),
            "signature": b64encode(signature),
            "key_id": info.key_id,
            "key_version": info.version,
            "public_key": b64encode(info.public_key),
        }

    async def _outcome(
        self,
        digest: bytes,
        tenant: str,
        input_text: str | None,
        facts: ComputeFacts | None,
        limits: RunLimits,
        supplied: list[Any],
    ) -> sandbox.Outcome:
        if input_text is None and facts is not None:
            try:
                input_text = facts.args.decode()
                json.loads(input_text or "null")
            except (UnicodeDecodeError, ValueError):
                return _refused(ComputeCode.BAD_INPUT, "the request's args are not UTF-8 JSON text")
        assert input_text is not None
        if len(input_text.encode()) > MAX_INPUT_BYTES:
            return _refused(ComputeCode.BAD_INPUT, f"input above {MAX_INPUT_BYTES} bytes")
        try:
            secret_values = self._unseal(tenant, supplied)
        except _SecretRefused as exc:
            return _refused(ComputeCode.SECRET_UNAVAILABLE, str(exc))
        outcome = await self._pool.run(RunRequest(digest, input_text, limits, secret_values))
        return _scrubbed(outcome, [s.value for s in secret_values.values()])

    def _unseal(self, tenant: str, supplied: list[Any]) -> dict[str, SecretValue]:
        """The granted secrets, unsealed for ``tenant``: a blob of another tenant does not open."""
        if len(supplied) > MAX_SECRETS:
            raise InvalidKeyRequest(f"at most {MAX_SECRETS} secrets")
        values: dict[str, SecretValue] = {}
        for item in supplied:
            if not isinstance(item, dict):
                raise BadRequest("secrets must be a list of objects")
            name, version, blob = item.get("name"), item.get("version"), item.get("blob")
            if not isinstance(name, str) or not isinstance(version, int) or not isinstance(blob, str):
                raise BadRequest("each secret needs name, version and blob")
            try:
                label = seal_label(name, version)
                plaintext = self._sealer.unseal(
                    SealUse.DATA, {"tenant": tenant, "label": label}, b64decode(blob)
                )
                pinned, raw = open_payload(plaintext)
                value = raw.decode()
            except (InvalidSecretInput, SealedDataInvalid, ValueError):
                raise _SecretRefused(f"secret {name[:64]!r} cannot be opened for tenant {tenant}") from None
            values[name] = SecretValue(value, frozenset(pinned))
        return values


def _not_loaded(digest: bytes) -> ArtifactNotLoaded:
    return ArtifactNotLoaded(f"artefact {digest.hex()} is not compiled here yet: send it with compute_load")


def _refused(code: ComputeCode, detail: str) -> sandbox.Outcome:
    return sandbox.Outcome(code, b"", detail[:1000], 0, 0, 0, "")


class _SecretRefused(Exception):
    pass


def _scrubbed(outcome: sandbox.Outcome, values: list[str]) -> sandbox.Outcome:
    """Refuse a result carrying a secret value, and blank secret values out of detail and log."""
    values = [v for v in values if v]
    detail, log_text = outcome.detail, outcome.log
    for value in values:
        detail, log_text = detail.replace(value, "[secret]"), log_text.replace(value, "[secret]")
    if any(value.encode() in outcome.result for value in values):
        return sandbox.Outcome(
            ComputeCode.FORBIDDEN,
            b"",
            "the result contains a secret value",
            outcome.fuel_used,
            outcome.wall_ms,
            outcome.fetches,
            log_text,
        )
    return sandbox.Outcome(
        outcome.code, outcome.result, detail, outcome.fuel_used, outcome.wall_ms, outcome.fetches, log_text
    )


def _digest(text: str) -> bytes:
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        raise InvalidKeyRequest("digest must be 64 hex digits (SHA-256)") from None
    if len(digest) != 32:
        raise InvalidKeyRequest("digest must be 64 hex digits (SHA-256)")
    return digest


def _chain_facts(args: Args, function_id: str) -> ComputeFacts | None:
    chain = args.opt_mapping("chain")
    if chain is None:
        return None
    facts = Args(dict(chain))
    try:
        return ComputeFacts(
            magic=facts.integer("magic"),
            contract=facts.blob("contract"),
            request_id=facts.integer("request_id"),
            consumer=facts.blob("consumer"),
            function_id=function_id,
            args=facts.blob("args"),
        )
    except InvalidInput as exc:
        raise InvalidKeyRequest(str(exc)) from None
