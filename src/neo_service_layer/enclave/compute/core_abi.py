"""The host interface for core WebAssembly modules (Rust, TinyGo, AssemblyScript, WAT): ABI ``nsl-core-1``.

A module exports ``memory``, ``nsl_alloc(size: i32) -> i32`` and ``nsl_run(ptr: i32, len: i32) -> i32``
(input: the JSON text at ptr/len; return 0 after calling ``nsl.result``, anything else after
``nsl.error``). It may import, from module ``nsl``::

    now_ms() -> i64
    random_bytes(ptr: i32, len: i32) -> i32          0, or -1 above 4096 bytes
    secret(name_ptr: i32, name_len: i32) -> i64      packed value, see below
    fetch(req_ptr: i32, req_len: i32) -> i64         request/response as JSON, see docs/compute.md
    result(ptr: i32, len: i32)
    error(ptr: i32, len: i32)

and WASI preview 1 (no files, no environment, no sockets; stdout/stderr are kept as the run's log).
``secret`` and ``fetch`` write their answer into memory the host gets from ``nsl_alloc`` and return
``ptr << 32 | len``; on failure the error text is written the same way and the bitwise NOT of that
value (a negative number) is returned.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

import wasmtime

from neo_service_layer.enclave.compute.host import HostError, RunHost

ABI = "nsl-core-1"
_I32 = wasmtime.ValType.i32()
_I64 = wasmtime.ValType.i64()


class ModuleOutput:
    """What ``nsl.result``/``nsl.error`` received."""

    def __init__(self) -> None:
        self.result: bytes | None = None
        self.error: str | None = None


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise HostError("the module does not export its memory as 'memory'")
    return memory


def _read(caller: wasmtime.Caller, ptr: int, length: int) -> bytes:
    memory = _memory(caller)
    if ptr < 0 or length < 0 or ptr + length > memory.data_len(caller):
        raise HostError("pointer and length are outside the module's memory")
    return bytes(memory.read(caller, ptr, ptr + length))


def _give(caller: wasmtime.Caller, data: bytes) -> int:
    alloc = caller.get("nsl_alloc")
    if not isinstance(alloc, wasmtime.Func):
        raise HostError("the module does not export nsl_alloc")
    ptr = alloc(caller, len(data))
    if not isinstance(ptr, int) or ptr <= 0:
        raise HostError("nsl_alloc returned no memory")
    _memory(caller).write(caller, data, ptr)
    return (ptr << 32) | len(data)


def _answer(caller: wasmtime.Caller, produce: Callable[[], bytes]) -> int:
    try:
        return _give(caller, produce())
    except HostError as exc:
        return ~_give(caller, str(exc).encode())


def _fetch(host: RunHost, raw: bytes) -> bytes:
    try:
        request: Any = json.loads(raw)
        body_b64 = request.get("body_base64")
        response = host.fetch(
            str(request.get("method", "GET")),
            str(request["url"]),
            [(str(k), str(v)) for k, v in request.get("headers", [])],
            None if body_b64 is None else base64.b64decode(body_b64, validate=True),
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise HostError(
            'fetch request must be JSON {"url": ..., "method"?, "headers"?, "body_base64"?}'
        ) from None
    return json.dumps(
        {
            "status": response.status,
            "headers": response.headers,
            "body_base64": base64.b64encode(response.body).decode(),
        }
    ).encode()


def core_linker(engine: wasmtime.Engine, host: RunHost, output: ModuleOutput) -> wasmtime.Linker:
    """A linker with WASI preview 1 and the ``nsl`` functions bound to this run."""
    linker = wasmtime.Linker(engine)
    linker.define_wasi()

    def random_bytes(caller: wasmtime.Caller, ptr: int, length: int) -> int:
        try:
            _memory(caller).write(caller, host.random_bytes(length), ptr)
        except (HostError, wasmtime.WasmtimeError, IndexError, ValueError):
            return -1
        return 0

    def secret(caller: wasmtime.Caller, ptr: int, length: int) -> int:
        return _answer(
            caller, lambda: host.secret(_read(caller, ptr, length).decode(errors="replace")).encode()
        )

    def fetch(caller: wasmtime.Caller, ptr: int, length: int) -> int:
        return _answer(caller, lambda: _fetch(host, _read(caller, ptr, length)))

    def result(caller: wasmtime.Caller, ptr: int, length: int) -> None:
        output.result = _read(caller, ptr, length)

    def error(caller: wasmtime.Caller, ptr: int, length: int) -> None:
        output.error = _read(caller, ptr, length).decode(errors="replace")

    linker.define_func("nsl", "now_ms", wasmtime.FuncType([], [_I64]), host.now_ms)
    linker.define_func("nsl", "random_bytes", wasmtime.FuncType([_I32, _I32], [_I32]), random_bytes, True)
    linker.define_func("nsl", "secret", wasmtime.FuncType([_I32, _I32], [_I64]), secret, True)
    linker.define_func("nsl", "fetch", wasmtime.FuncType([_I32, _I32], [_I64]), fetch, True)
    linker.define_func("nsl", "result", wasmtime.FuncType([_I32, _I32], []), result, True)
    linker.define_func("nsl", "error", wasmtime.FuncType([_I32, _I32], []), error, True)
    return linker
