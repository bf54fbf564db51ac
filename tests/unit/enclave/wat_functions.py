"""Core WebAssembly test functions (ABI ``nsl-core-1``) written in WAT, compiled with wasmtime's wat2wasm.

Each module exports ``memory``, a bump ``nsl_alloc`` and ``nsl_run``; ``body`` is the WAT of ``nsl_run``
after its locals. ``$emit`` hands a packed host answer (``ptr << 32 | len``, or its bitwise NOT for an
error) to ``nsl.result``/``nsl.error`` and returns 0 or 1.
"""

from __future__ import annotations

import wasmtime

_HEADER = """
(module
  (import "nsl" "secret" (func $secret (param i32 i32) (result i64)))
  (import "nsl" "fetch" (func $fetch (param i32 i32) (result i64)))
  (import "nsl" "result" (func $result (param i32 i32)))
  (import "nsl" "error" (func $error (param i32 i32)))
  (import "nsl" "now_ms" (func $now (result i64)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  {extra_imports}
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 1024) "{data}")
  (func (export "nsl_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func $emit (param $r i64) (result i32)
    (if (i64.lt_s (local.get $r) (i64.const 0))
      (then
        (local.set $r (i64.xor (local.get $r) (i64.const -1)))
        (call $error (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))
        (return (i32.const 1))))
    (call $result (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))
    (i32.const 0))
  (func (export "nsl_run") (param $ptr i32) (param $len i32) (result i32)
    {body})
)
"""


def module(body: str, data: str = "", extra_imports: str = "") -> bytes:
    """A core module whose ``nsl_run`` is ``body``; ``data`` is placed at address 1024."""
    escaped = data.replace("\\", "\\\\").replace('"', '\\"')
    return bytes(wasmtime.wat2wasm(_HEADER.format(body=body, data=escaped, extra_imports=extra_imports)))


#: returns its input, repeated four times (a result far over 256 bytes for a 100-byte input)
ECHO_FOUR = module(
    """
    (local $i i32) (local $out i32)
    (local.set $out (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.mul (local.get $len) (i32.const 4))))
    (block $done (loop $copy
      (br_if $done (i32.eq (local.get $i) (i32.const 4)))
      (memory.copy (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $len)))
                   (local.get $ptr) (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (call $result (local.get $out) (i32.mul (local.get $len) (i32.const 4)))
    (i32.const 0)
    """
)


def secret_module(name: str) -> bytes:
    """Returns the value of secret ``name`` (or its error)."""
    return module(f"(call $emit (call $secret (i32.const 1024) (i32.const {len(name.encode())})))", data=name)


def fetch_module(request_json: str) -> bytes:
    """Fetches the request (JSON as ``nsl.fetch`` takes it) and returns the response JSON (or the error)."""
    return module(
        f"(call $emit (call $fetch (i32.const 1024) (i32.const {len(request_json.encode())})))",
        data=request_json,
    )


ENDLESS_LOOP = module("(loop $forever (br $forever)) (i32.const 0)")

#: grows memory until refused, then traps
MEMORY_BOMB = module(
    """
    (block $refused (loop $grow
      (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
      (br $grow)))
    unreachable
    """
)

#: writes "hello log" to stdout (WASI fd_write), then fails with an error of its own
LOGS_THEN_FAILS = module(
    """
    (i32.store (i32.const 2048) (i32.const 1024))
    (i32.store (i32.const 2052) (i32.const 9))
    (drop (call $fd_write (i32.const 1) (i32.const 2048) (i32.const 1) (i32.const 2056)))
    (call $error (i32.const 1024) (i32.const 9))
    (i32.const 1)
    """,
    data="hello log",
)

#: imports a host function the sandbox does not have
UNKNOWN_IMPORT = module(
    "(call $launch) (i32.const 0)", extra_imports='(import "nsl" "launch_missiles" (func $launch))'
)

#: divides by zero
TRAPS = module("(drop (i32.div_u (i32.const 1) (i32.const 0))) (i32.const 0)")

#: sleeps an hour in WASI ``poll_oneoff`` (a clock subscription): blocked in the host, not in wasm
SLEEPS_AN_HOUR = module(
    """
    (i64.store (i32.const 3000) (i64.const 0))
    (i32.store8 (i32.const 3008) (i32.const 0))
    (i32.store (i32.const 3016) (i32.const 1))
    (i64.store (i32.const 3024) (i64.const 3600000000000))
    (i64.store (i32.const 3032) (i64.const 0))
    (i32.store16 (i32.const 3040) (i32.const 0))
    (drop (call $poll (i32.const 3000) (i32.const 3100) (i32.const 1) (i32.const 3200)))
    (i32.const 0)
    """,
    extra_imports=(
        '(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))'
    ),
)
