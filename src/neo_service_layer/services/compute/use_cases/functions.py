"""Tenants' functions: upload (build to WebAssembly, store by SHA-256, have the enclave compile it),
list, and run off chain with a signed receipt.

The enclave hashes what it compiles and signs the hash of what it ran, so the stored digest is a check,
not a trust: a run of other bytes would carry another hash in its receipt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from neo_service_layer.enclave.wire.compute import ComputeRun
from neo_service_layer.enclave.wire.errors import (
    DependencyUnavailable,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, InvalidKeyRequest
from neo_service_layer.enclave.wire.oracle import SealedSecret
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.identity.rules.audit import AuditRecord, Outcome, RequestMeta
from neo_service_layer.services.compute.ports import Builder, ComputeEnclave, ComputeObserver, FunctionStore
from neo_service_layer.services.compute.rules import (
    LIMIT_NAMES,
    MAX_INPUT_BYTES,
    BuildRefused,
    ComputeFunction,
    ComputeKey,
    FunctionNotFound,
    Language,
    RunRecord,
    check_secret_names,
    input_text,
    new_function_id,
    new_run_id,
)
from neo_service_layer.services.compute.use_cases.run_events import run_event

#: (tenant, secret name) -> (seal label ``secret:<name>:v<version>``, sealed blob)
SecretReader = Callable[[str, str], Awaitable[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class NewFunction:
    name: str
    language: Language
    source: str | None
    module: bytes | None
    limits: Mapping[str, int]
    secrets: list[str]
    on_chain: bool


class ComputeFunctions:
    """Upload, list and run a tenant's functions."""

    def __init__(
        self,
        store: FunctionStore,
        enclave: Callable[[], object],
        builder: Builder,
        secrets: SecretReader,
        key: Callable[[], Awaitable[ComputeKey]],
        clock: Clock,
        audit: AuditLog,
        maxima: Mapping[str, int],
        observer: ComputeObserver,
    ) -> None:
        self._store = store
        self._enclave = enclave
        self._build = builder
        self._secrets = secrets
        self._key = key
        self._clock = clock
        self._audit = audit
        self._maxima = dict(maxima)
        self.observer = observer

    def _compute_enclave(self, who: Principal | None = None) -> ComputeEnclave:
        enclave = self._enclave()
        if isinstance(enclave, ComputeEnclave) and who is not None:
            enclave = enclave.with_credential(who.credential)  # an enforcing tenant's secrets need it
        if not isinstance(enclave, ComputeEnclave):
            raise DependencyUnavailable("this process's enclave client does not run functions")
        return enclave

    def check_limits(self, limits: Mapping[str, int]) -> dict[str, int]:
        """Known names, each within the operator's maximum (the enclave checks them again)."""
        for name, value in limits.items():
            if name not in LIMIT_NAMES:
                raise InvalidInput(f"unknown limit {name[:40]!r} (known: {', '.join(LIMIT_NAMES)})")
            high = self._maxima.get(name)
            if high is not None and value > high:
                raise InvalidInput(f"limit {name} = {value} is above the operator's maximum {high}")
        return dict(limits)

    async def create(self, who: Principal, meta: RequestMeta, new: NewFunction) -> ComputeFunction:
        limits = self.check_limits(new.limits)
        secrets = check_secret_names(new.secrets)
        data = await self._artefact(new)
        digest = hashlib.sha256(data).hexdigest()
        now = self._clock.now()
        await self._store.put_artifact(digest, data, now)
        try:  # compiled now, so that the first run is warm, and refused now if it is no module
            await self._compute_enclave().compute_load(data)
        except InvalidKeyRequest as exc:
            raise BuildRefused(str(exc)) from None
        fn = ComputeFunction(
            function_id=new_function_id(),
            tenant_id=who.tenant_id,
            name=new.name,
            language=new.language,
            digest=digest,
            size=len(data),
            limits=limits,
            secrets=secrets,
            on_chain=new.on_chain,
            created_at=now,
        )
        await self._store.add_function(fn)
        await self._record(
            who, meta, "function_create", fn.function_id, digest=digest, language=fn.language.value
        )
        return fn

    async def _artefact(self, new: NewFunction) -> bytes:
        if new.language is Language.WASM:
            if new.module is None:
                raise InvalidInput("a wasm function needs moduleBase64")
            return new.module
        if new.source is None:
            raise InvalidInput(f"a {new.language.value} function needs source")
        return await self._build(new.language.value, new.source)  # BuildRefused when it does not build

    async def one(self, tenant_id: str, function_id: str) -> ComputeFunction:
        fn = await self._store.function(tenant_id, function_id)
        if fn is None:
            raise FunctionNotFound(f"no function {function_id}")
        return fn

    async def page(self, tenant_id: str, *, after: str | None, limit: int) -> list[ComputeFunction]:
        return await self._store.functions(tenant_id, after=after, limit=limit)

    async def run(
        self, who: Principal, function_id: str, input_value: object
    ) -> tuple[RunRecord, ComputeRun]:
        fn = await self.one(who.tenant_id, function_id)
        text = input_text(input_value)
        if len(text.encode()) > MAX_INPUT_BYTES:
            raise InvalidInput(f"input above {MAX_INPUT_BYTES} bytes of JSON")
        key = await self._key()
        outcome = await self._compute_enclave(who).compute_run(
            tenant=fn.tenant_id,
            function_id=fn.function_id,
            digest=fn.digest,
            input_text=text,
            limits=fn.limits,
            secrets=await self.sealed_secrets(fn),
            key_id=key.key_id,
            key_tenant=PLATFORM_KEY_OWNER,
            artifact=lambda: self.artifact_bytes(fn.digest),
        )
        record = RunRecord(
            run_id=new_run_id(),
            tenant_id=fn.tenant_id,
            function_id=fn.function_id,
            digest=outcome.function_hash.hex(),
            input_sha256=hashlib.sha256(text.encode()).hexdigest(),
            code=outcome.code,
            detail=outcome.detail,
            result=outcome.result,
            fuel_used=outcome.fuel_used,
            wall_ms=outcome.wall_ms,
            fetches=outcome.fetches,
            timestamp_ms=outcome.timestamp_ms,
            signature=outcome.signature,
            key_version=outcome.key_version,
            created_at=self._clock.now(),
        )
        where: dict[str, object] = {"where": "offchain", "runId": record.run_id}
        event = run_event(fn.tenant_id, record.created_at, fn.function_id, record, where)
        await self._store.add_run(record, event)
        self.observer.run(outcome.outcome, "offchain", outcome.fuel_used, outcome.wall_ms)
        return record, outcome

    async def runs(self, tenant_id: str, function_id: str, *, limit: int) -> list[RunRecord]:
        await self.one(tenant_id, function_id)
        return await self._store.runs(tenant_id, function_id, limit=limit)

    async def one_run(self, tenant_id: str, run_id: str) -> RunRecord:
        run = await self._store.run(tenant_id, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        return run

    async def sealed_secrets(self, fn: ComputeFunction) -> list[SealedSecret]:
        """The current sealed version of each granted secret that exists and allows compute (one that
        does not is left out: the function's ``secret`` call then says it is not granted)."""
        sealed: list[SealedSecret] = []
        for name in fn.secrets:
            try:
                label, blob = await self._secrets(fn.tenant_id, name)
            except (NotFound, PermissionDenied):
                continue
            sealed.append(SealedSecret(name, int(label.rsplit(":v", 1)[1]), blob))
        return sealed

    async def artifact_bytes(self, digest: str) -> bytes:
        data = await self._store.artifact(digest)
        if data is None:
            raise DependencyUnavailable(f"artefact {digest} is missing from the database")
        return data

    async def _record(
        self, who: Principal, meta: RequestMeta, op: str, function_id: str, **details: str
    ) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=who.tenant_id,
                actor=who.actor,
                action=f"compute.{op}",
                outcome=Outcome.SUCCESS,
                target=f"function:{function_id}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
                details=details,
            )
        )
