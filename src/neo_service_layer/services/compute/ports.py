"""What the compute service's use cases need from outside: the enclave's compute operations, the
builders, the stores of functions and runs, and sealed secrets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from neo_service_layer.enclave.wire.compute import ComputeFacts, ComputeRun
from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.oracle import SealedSecret
from neo_service_layer.kernel.events.rules import TenantEvent
from neo_service_layer.services.compute.rules import ComputeFunction, RunRecord

#: (language, source) -> component bytes; raises ``rules.BuildRefused`` when it does not build
Builder = Callable[[str, str], Awaitable[bytes]]


@runtime_checkable
class ComputeEnclave(Protocol):
    """The enclave's compute operations (``EnclaveClient`` implements them)."""

    def with_credential(self, credential: ApiKeyCredential | None) -> object:
        """The same enclave sending the caller's API key (an enforcing tenant's secrets need it)."""
        ...

    async def compute_load(self, data: bytes) -> str: ...

    async def compute_run(
        self,
        *,
        tenant: str,
        function_id: str,
        digest: str,
        input_text: str | None,
        limits: Mapping[str, int],
        secrets: Sequence[SealedSecret],
        key_id: str,
        key_tenant: str,
        artifact: Callable[[], Awaitable[bytes]],
        chain: ComputeFacts | None = None,
        key_version: int | None = None,
    ) -> ComputeRun: ...

    async def compute_refuse(
        self, chain: ComputeFacts, code: int, detail: str, *, key_id: str, key_tenant: str
    ) -> ComputeRun: ...


class ComputeObserver(Protocol):
    """Counts runs by outcome and where they were asked, with their fuel and wall time."""

    def run(self, outcome: str, where: str, fuel: int, wall_ms: int) -> None: ...


class FunctionStore(Protocol):
    async def put_artifact(self, digest: str, data: bytes, now: datetime) -> None: ...

    async def artifact(self, digest: str) -> bytes | None: ...

    async def add_function(self, fn: ComputeFunction) -> None: ...

    async def function(self, tenant_id: str, function_id: str) -> ComputeFunction | None: ...

    async def functions(self, tenant_id: str, *, after: str | None, limit: int) -> list[ComputeFunction]: ...

    async def resolve(self, function_id: str) -> ComputeFunction | None: ...

    async def add_run(self, run: RunRecord, event: TenantEvent) -> None:
        """Record the run and publish its ``compute.run.*`` event for the owner, in one transaction."""
        ...

    async def runs(self, tenant_id: str, function_id: str, *, limit: int) -> list[RunRecord]: ...

    async def run(self, tenant_id: str, run_id: str) -> RunRecord | None: ...
