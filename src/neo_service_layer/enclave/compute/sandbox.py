"""One run of a compiled function under its limits, and why it ended (``ComputeCode``).

The run is blocking (the caller puts it on a thread). Limits: fuel (``Store.set_fuel``), memory
(``Store.set_limits``), wall time (epoch deadline, ticked by ``ComputeEngine``), fetches and result size
(``RunHost``, here). Host access: WASI with nothing granted (no preopened directory, no environment, no
arguments, no sockets, stdout/stderr kept as a bounded log) and ``nsl:compute/host`` or ``nsl-core-1``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import component

from neo_service_layer.enclave.compute.artifacts import TICK_SECONDS, Artifact, ArtifactKind, ComputeEngine
from neo_service_layer.enclave.compute.core_abi import ModuleOutput, core_linker
from neo_service_layer.enclave.compute.host import HostError, RunHost
from neo_service_layer.enclave.compute.limits import RunLimits
from neo_service_layer.enclave.wire.compute import ComputeCode

#: the interface a component imports its host functions from (``services/compute/wit/function.wit``)
HOST_INTERFACE = "nsl:compute/host@0.1.0"
MAX_LOG_BYTES = 8 * 1024
_MEMORY_SIGNS = ("MemoryError", "out of memory", "memory allocation of", "allocation failed")
_WASM_PAGE = 65536


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended. ``result`` only with ``SUCCESS``; ``detail`` says why otherwise."""

    code: ComputeCode
    result: bytes
    detail: str
    fuel_used: int
    wall_ms: int
    fetches: int
    log: str


class _Log:
    """A bounded capture of the module's stdout and stderr (the tail is what explains a failure)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> None:
        self.data.extend(chunk)
        if len(self.data) > 2 * MAX_LOG_BYTES:
            del self.data[: len(self.data) - MAX_LOG_BYTES]

    def text(self) -> str:
        return bytes(self.data[-MAX_LOG_BYTES:]).decode(errors="replace")


def _wasi(log: _Log) -> wasmtime.WasiConfig:
    config = wasmtime.WasiConfig()
    config.stdout_custom = log.write  # a write-only property taking the callback
    config.stderr_custom = log.write
    return config


def _component_host(linker: component.Linker, host: RunHost) -> None:
    def answer(produce: Callable[[], Any]) -> component.Variant:
        try:
            return component.Variant("ok", produce())
        except HostError as exc:
            return component.Variant("err", str(exc))

    def fetch(_store: Any, request: Any) -> component.Record | str:
        # wasmtime-py lowers a result whose two cases are distinct Python types (a record, a str) from
        # the bare value, and one whose cases share a type (``secret``: str, str) from a Variant
        try:
            response = host.fetch(request.method, request.url, list(request.headers), request.body)
        except HostError as exc:
            return str(exc)
        record = component.Record()
        record.status = response.status  # type: ignore[attr-defined]
        record.headers = response.headers  # type: ignore[attr-defined]
        record.body = response.body  # type: ignore[attr-defined]
        return record

    with linker.root() as root, root.add_instance(HOST_INTERFACE) as instance:
        instance.add_func("fetch", fetch)
        instance.add_func("secret", lambda _store, name: answer(lambda: host.secret(name)))
        instance.add_func("now-ms", lambda _store: host.now_ms())
        # a WIT function cannot return an error here: an oversized request gets no bytes
        instance.add_func("random-bytes", lambda _store, n: _random_or_empty(host, n))


def _random_or_empty(host: RunHost, n: int) -> bytes:
    try:
        return host.random_bytes(n)
    except HostError:
        return b""


def run(
    engine: ComputeEngine, artifact: Artifact, input_text: str, host: RunHost, limits: RunLimits
) -> Outcome:
    """Run ``artifact`` once on ``input_text``; never raises for anything the function does."""
    engine.start_clock()
    store = wasmtime.Store(engine.engine)
    store.set_fuel(limits.fuel)
    store.set_epoch_deadline(max(1, math.ceil(limits.wall_ms / 1000 / TICK_SECONDS)))
    store.set_limits(memory_size=limits.memory_bytes, instances=64, tables=64, memories=16)
    log = _Log()
    store.set_wasi(_wasi(log))
    started = time.monotonic()
    probes: list[Callable[[], int]] = []  # bytes of linear memory, core modules only
    try:
        if artifact.kind is ArtifactKind.COMPONENT:
            value = _run_component(engine, artifact, store, input_text, host)
        else:
            value = _run_module(engine, artifact, store, input_text, host, probes)
        code, result, detail = _classify_value(value, limits)
    except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
        memory_used = probes[0]() if probes else 0
        code, result, detail = _classify_failure(exc, log.text(), memory_used, limits)
    except _Invalid as exc:
        code, result, detail = ComputeCode.INVALID_MODULE, b"", str(exc)
    fuel_left = store.get_fuel()
    if code in (ComputeCode.FUNCTION_ERROR, ComputeCode.TRAP) and host.record.out_of_time:
        code, detail = ComputeCode.TIMEOUT, f"time limit reached during a fetch: wall_ms = {limits.wall_ms}"
    if (
        code is not ComputeCode.SUCCESS
        and host.record.refused_fetches
        and code
        in (
            ComputeCode.FUNCTION_ERROR,
            ComputeCode.TRAP,
        )
    ):
        code, detail = ComputeCode.FETCH_REFUSED, f"{detail} (after: {host.record.refused_fetches[-1]})"
    return Outcome(
        code=code,
        result=result,
        detail=detail,
        fuel_used=limits.fuel - fuel_left,
        wall_ms=int((time.monotonic() - started) * 1000),
        fetches=host.record.fetches,
        log=log.text(),
    )


class _Invalid(Exception):
    """The artefact does not fit the sandbox (missing export, unknown import)."""


def _instantiate_error(exc: wasmtime.WasmtimeError) -> _Invalid | None:
    text = str(exc)
    for sign in (
        "unknown import",
        "has not been defined",
        "matching implementation was not found",
        "import `",
    ):
        if sign in text:
            return _Invalid(
                f"the function imports something the sandbox does not provide: {_last_line(text)}"
            )
    return None


def _run_component(
    engine: ComputeEngine, artifact: Artifact, store: wasmtime.Store, text: str, host: RunHost
) -> Any:
    linker = component.Linker(engine.engine)
    linker.add_wasip2()
    _component_host(linker, host)
    assert isinstance(artifact.compiled, component.Component)
    try:
        instance = linker.instantiate(store, artifact.compiled)
    except wasmtime.WasmtimeError as exc:
        invalid = _instantiate_error(exc)
        if invalid is not None:
            raise invalid from None
        raise
    func = instance.get_func(store, "run")
    if func is None:
        raise _Invalid("the component does not export run(input: string) -> result<list<u8>, string>")
    return func(store, text)


def _run_module(
    engine: ComputeEngine,
    artifact: Artifact,
    store: wasmtime.Store,
    text: str,
    host: RunHost,
    probes: list[Callable[[], int]],
) -> Any:
    output = ModuleOutput()
    linker = core_linker(engine.engine, host, output)
    assert isinstance(artifact.compiled, wasmtime.Module)
    try:
        instance = linker.instantiate(store, artifact.compiled)
    except wasmtime.WasmtimeError as exc:
        invalid = _instantiate_error(exc)
        if invalid is not None:
            raise invalid from None
        raise
    exports = instance.exports(store)
    memory, alloc, entry = exports.get("memory"), exports.get("nsl_alloc"), exports.get("nsl_run")
    if (
        not isinstance(memory, wasmtime.Memory)
        or not isinstance(alloc, wasmtime.Func)
        or not isinstance(entry, wasmtime.Func)
    ):
        raise _Invalid("a core module must export memory, nsl_alloc and nsl_run (ABI nsl-core-1)")
    probes.append(lambda: memory.data_len(store))
    data = text.encode()
    ptr = alloc(store, len(data))
    if not isinstance(ptr, int) or ptr <= 0:
        raise _Invalid("nsl_alloc returned no memory for the input")
    memory.write(store, data, ptr)
    status = entry(store, ptr, len(data))
    if status == 0 and output.result is not None:
        return output.result
    return output.error or f"nsl_run returned {status} without a result"


def _classify_value(value: Any, limits: RunLimits) -> tuple[ComputeCode, bytes, str]:
    if isinstance(value, bytes | bytearray):
        if len(value) > limits.result_bytes:
            return (
                ComputeCode.RESULT_TOO_LARGE,
                b"",
                f"result of {len(value)} bytes is above the limit result_bytes = {limits.result_bytes}",
            )
        return ComputeCode.SUCCESS, bytes(value), ""
    message = str(value)[:1000]
    if any(sign in message for sign in _MEMORY_SIGNS):
        return (
            ComputeCode.MEMORY_LIMIT,
            b"",
            f"out of memory (memory_bytes = {limits.memory_bytes}): {message}",
        )
    return ComputeCode.FUNCTION_ERROR, b"", message


def _classify_failure(
    exc: wasmtime.WasmtimeError | wasmtime.Trap, log: str, memory_used: int, limits: RunLimits
) -> tuple[ComputeCode, bytes, str]:
    text = str(exc)
    trap = exc.trap_code if isinstance(exc, wasmtime.Trap) else None
    if trap is wasmtime.TrapCode.OUT_OF_FUEL or "all fuel consumed" in text:
        return ComputeCode.FUEL_EXHAUSTED, b"", f"fuel exhausted: the run used all of fuel = {limits.fuel}"
    if trap is wasmtime.TrapCode.INTERRUPT or "wasm trap: interrupt" in text:
        return ComputeCode.TIMEOUT, b"", f"time limit reached: wall_ms = {limits.wall_ms}"
    if any(sign in log for sign in _MEMORY_SIGNS) or memory_used >= _near_limit(limits.memory_bytes):
        return (
            ComputeCode.MEMORY_LIMIT,
            b"",
            f"out of memory: the run hit memory_bytes = {limits.memory_bytes}",
        )
    reason = _last_line(text)
    tail = [line for line in log.splitlines() if line.strip()][-3:]
    detail = f"the function trapped: {reason}" + (f" (log: {' | '.join(tail)})" if tail else "")
    return ComputeCode.TRAP, b"", detail[:1000]


def _near_limit(memory_bytes: int) -> int:
    """A core module that trapped with its memory this close to the limit ran out of memory (wasmtime
    answers a refused ``memory.grow`` with -1; what the module does next is its own)."""
    return memory_bytes - max(memory_bytes // 10, 16 * _WASM_PAGE)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "unknown error"
