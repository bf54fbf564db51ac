"""Compute service: cold and warm start per kind of function, runs per second, where a run's time goes,
and the limits measured against Chainlink Functions'.

Usage: ``.venv/bin/python -m bench.compute [--runs 30] [--loads 3] [--duration 3] [--no-api]``.

In this process, the enclave's compute parts as ``enclave/handlers.py`` builds them (a ``Sealer`` with a
random secret, a ``KeyStore`` with a secp256r1 compute key, a ``ComputeEngine`` on a temporary state
directory, ``ComputeOps`` with the default policy: 2 runs at once), no socket:

1. per kind (a WAT core module, and Python and JavaScript components from the builders): build time,
   ``ComputeEngine.compile`` (Cranelift, then serialize, seal and write), ``--loads`` times a fresh engine
   reading the sealed compiled form (an enclave restart without the process start) and its first run
   (instantiate + run), then the median of ``--runs`` warm ``sandbox.run`` calls (each a new store and
   instance, as in the service); artefact and sealed sizes;
2. runs per second of the trivial function (echo), WAT and Python: ``sandbox.run`` alone, and
   ``ComputeOps.run`` (limits, run, receipt signed by the compute key) one and two at a time,
   ``--duration`` whole seconds each. Reference, measured in the same run: a bare wasmtime instantiate +
   call of the same WAT module (default engine: no fuel, no epoch, no WASI, stub imports, a new store
   per call);
3. the share of ``ComputeOps.run`` spent in ``sandbox.run`` (wrapped with a timer for the phase) and
   ``Outcome.wall_ms``; and ``bench.compute_api`` (unless ``--no-api``): the same through the API;
4. limits: the largest result, when a busy loop stops, how much a Python function can allocate.

Prints markdown. Bounded: every phase has a duration or a count; processes are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import wasmtime
from tests.unit.enclave.wat_functions import ECHO_FOUR

from bench.compute_api import api_phase
from bench.compute_limits import limits_phase, run_args
from neo_service_layer.enclave.compute import sandbox
from neo_service_layer.enclave.compute.artifacts import WASMTIME_VERSION, Artifact, ComputeEngine
from neo_service_layer.enclave.compute.host import RunHost
from neo_service_layer.enclave.compute.limits import DEFAULT_LIMITS, MIB, RunLimits
from neo_service_layer.enclave.compute.ops import ComputeOps
from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.wire.compute import ComputeCode
from neo_service_layer.enclave.wire.encoding import b64decode
from neo_service_layer.enclave.wire.keys import KeyKind, KeyPolicy, Purpose
from neo_service_layer.services.compute.adapters.builders import build

#: the trivial Python function: echo; "size" returns that many bytes, "spin" never ends, "alloc" allocates
PYTHON_SOURCE = """\
def run(input):
    if isinstance(input, dict):
        if "size" in input:
            return "x" * input["size"]
        if "spin" in input:
            while True:
                pass
        if "alloc" in input:
            return len(bytearray(input["alloc"]))
    return input
"""
JS_SOURCE = """\
export function run(input) {
  if (input !== null && typeof input === 'object' && 'size' in input) return 'x'.repeat(input.size);
  return input;
}
"""
INPUT = '{"n":1}'


@dataclass
class Function:
    kind: str
    data: bytes
    build_s: float | None
    expected: bytes


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def _range_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f} ({min(values) * 1000:.2f}-{max(values) * 1000:.2f})"


#: one fetcher for the direct runs, as the enclave has (building one loads the CA bundle: about 80 ms)
FETCHER = Fetcher(GuardPolicy())


def _run(
    engine: ComputeEngine, artifact: Artifact, expected: bytes, loop: asyncio.AbstractEventLoop
) -> float:
    """One ``sandbox.run`` of the echo input; its wall time (s); fails loudly if the result is wrong."""
    host = RunHost(
        limits=DEFAULT_LIMITS,
        secret_values={},
        fetcher=FETCHER,
        loop=loop,
        deadline=time.monotonic() + DEFAULT_LIMITS.wall_ms / 1000,
    )
    start = time.perf_counter()
    outcome = sandbox.run(engine, artifact, INPUT, host, DEFAULT_LIMITS)
    elapsed = time.perf_counter() - start
    if outcome.code is not ComputeCode.SUCCESS or outcome.result != expected:
        raise RuntimeError(
            f"unexpected outcome: {outcome.code.name} {outcome.detail} {outcome.result[:80]!r}"
        )
    return elapsed


async def _functions() -> list[Function]:
    functions = [Function("WAT (core module)", ECHO_FOUR, None, INPUT.encode() * 4)]
    for kind, language, source in (
        ("Python", "python", PYTHON_SOURCE),
        ("JavaScript", "javascript", JS_SOURCE),
    ):
        start = time.perf_counter()
        data = await build(language, source)
        functions.append(Function(kind, data, time.perf_counter() - start, INPUT.encode()))
    return functions


async def cold_and_warm(
    functions: list[Function], sealer: Sealer, state: Path, args: argparse.Namespace
) -> None:
    loop = asyncio.get_running_loop()
    print("\n## Cold and warm start (in process)\n")
    print(
        "| function | artefact | sealed compiled form | build s | compile s | load by a fresh engine ms "
        f"(median, min-max of {args.loads}) | first run after load ms | warm run ms (median of {args.runs}) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for fn in functions:
        engine = ComputeEngine(sealer, state)
        start = time.perf_counter()
        artifact = await asyncio.to_thread(engine.compile, fn.data)
        compile_s = time.perf_counter() - start
        engine.close()
        loads, firsts = [], []
        for _ in range(args.loads):
            fresh = ComputeEngine(sealer, state)
            start = time.perf_counter()
            loaded = fresh.get(artifact.digest)
            loads.append(time.perf_counter() - start)
            if loaded is None:
                raise RuntimeError("the sealed compiled artefact was not read back")
            firsts.append(_run(fresh, loaded, fn.expected, loop))
            fresh.close()
        warm_engine = ComputeEngine(sealer, state)
        warm_artifact = warm_engine.get(artifact.digest)
        assert warm_artifact is not None
        _run(warm_engine, warm_artifact, fn.expected, loop)
        warm = [_run(warm_engine, warm_artifact, fn.expected, loop) for _ in range(args.runs)]
        warm_engine.close()
        sealed = (state / f"{artifact.digest.hex()}.sealed").stat().st_size
        built = "—" if fn.build_s is None else f"{fn.build_s:.1f}"
        sizes = f"{len(fn.data) / MIB:.2f} MiB | {sealed / MIB:.2f} MiB"
        print(
            f"| {fn.kind} | {sizes} | {built} | {compile_s:.2f} "
            f"| {_range_ms(loads)} | {_range_ms(firsts)} | {_median_ms(warm)} |"
        )


def bare_reference(data: bytes) -> Callable[[bytes], bytes]:
    """Instantiate + call of a core module with plain wasmtime: default engine, stub imports, no WASI."""
    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, data)
    linker = wasmtime.Linker(engine)
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    out: list[bytes] = []

    def result(caller: wasmtime.Caller, ptr: int, length: int) -> None:
        memory = caller.get("memory")
        assert isinstance(memory, wasmtime.Memory)
        out.append(bytes(memory.read(caller, ptr, ptr + length)))

    linker.define_func("nsl", "result", wasmtime.FuncType([i32, i32], []), result, True)
    linker.define_func("nsl", "error", wasmtime.FuncType([i32, i32], []), lambda _p, _l: None)
    linker.define_func("nsl", "secret", wasmtime.FuncType([i32, i32], [i64]), lambda _p, _l: 0)
    linker.define_func("nsl", "fetch", wasmtime.FuncType([i32, i32], [i64]), lambda _p, _l: 0)
    linker.define_func("nsl", "now_ms", wasmtime.FuncType([], [i64]), lambda: 0)
    linker.define_func(
        "wasi_snapshot_preview1", "fd_write", wasmtime.FuncType([i32] * 4, [i32]), lambda _a, _b, _c, _d: 0
    )

    def call(text: bytes) -> bytes:
        store = wasmtime.Store(engine)
        exports = linker.instantiate(store, module).exports(store)
        memory, alloc, run = exports["memory"], exports["nsl_alloc"], exports["nsl_run"]
        assert isinstance(memory, wasmtime.Memory)
        assert isinstance(alloc, wasmtime.Func)
        assert isinstance(run, wasmtime.Func)
        ptr = alloc(store, len(text))
        memory.write(store, text, ptr)
        run(store, ptr, len(text))
        return out.pop()

    return call


@contextmanager
def timed_sandbox(spent: list[float]) -> Iterator[None]:
    """Wraps ``sandbox.run`` (which ``ComputeOps`` calls through the module) with a timer."""
    original = sandbox.run

    def timed(
        engine: ComputeEngine, artifact: Artifact, input_text: str, host: RunHost, limits: RunLimits
    ) -> sandbox.Outcome:
        start = time.perf_counter()
        try:
            return original(engine, artifact, input_text, host, limits)
        finally:
            spent.append(time.perf_counter() - start)

    sandbox.run = timed
    try:
        yield
    finally:
        sandbox.run = original


async def rate(call: Callable[[], Awaitable[object]], concurrency: int, duration: float) -> tuple[float, int]:
    """(calls/s, calls) with ``concurrency`` callers for ``duration`` seconds."""
    deadline = time.perf_counter() + duration
    done = 0

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done / (time.perf_counter() - start), done


async def throughput(
    functions: list[Function], engine: ComputeEngine, ops: ComputeOps, key_id: str, duration: float
) -> dict[str, float]:
    """Runs/s through ComputeOps.run and the per-run split; returns the in-process medians for the API
    comparison (ms)."""
    loop = asyncio.get_running_loop()
    reference = bare_reference(ECHO_FOUR)
    assert reference(INPUT.encode()) == INPUT.encode() * 4
    deadline, count = time.perf_counter() + duration, 0
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        reference(INPUT.encode())
        count += 1
    bare = count / (time.perf_counter() - start)
    print(f"\n## Runs per second in process, {duration:g} s per row\n")
    print(
        f"Reference: bare wasmtime instantiate + call of the WAT module, one at a time: **{bare:.0f}/s**.\n"
    )
    print("| function | path | in flight | runs/s | runs | vs reference |")
    print("| --- | --- | --- | --- | --- | --- |")
    medians: dict[str, float] = {}
    splits = []
    for fn in functions[:2]:
        artifact = engine.get(hashlib.sha256(fn.data).digest())  # compiled and sealed in phase 1
        assert artifact is not None

        async def direct(fn: Function = fn, artifact: Artifact = artifact) -> float:
            return await asyncio.to_thread(_run, engine, artifact, fn.expected, loop)

        direct_rate, direct_n = await rate(direct, 1, duration)
        print(
            f"| {fn.kind} | `sandbox.run` | 1 | {direct_rate:.0f} | {direct_n} | {direct_rate / bare:.1%} |"
        )
        digest = artifact.digest.hex()
        for concurrency in (1, 2):
            spent: list[float] = []
            totals: list[float] = []
            walls: list[int] = []

            async def one(
                fn: Function = fn,
                digest: str = digest,
                totals: list[float] = totals,
                walls: list[int] = walls,
            ) -> None:
                start = time.perf_counter()
                reply = await ops.run(run_args(key_id, digest, INPUT))
                totals.append(time.perf_counter() - start)
                if reply["code"] != ComputeCode.SUCCESS or b64decode(reply["result"]) != fn.expected:
                    raise RuntimeError(f"unexpected run: {reply['code']} {reply['detail']}")
                walls.append(int(reply["wall_ms"]))

            with timed_sandbox(spent):
                runs_s, n = await rate(one, concurrency, duration)
            print(
                f"| {fn.kind} | `ComputeOps.run` | {concurrency} | {runs_s:.0f} | {n} | {runs_s / bare:.1%} |"
            )
            if concurrency == 1:
                splits.append((fn.kind, n, spent, totals, walls))
                medians[fn.kind] = statistics.median(totals) * 1000
    print("\n## Where a run's time goes (in process, one at a time; medians)\n")
    print("| function | runs | `sandbox.run` ms | `Outcome.wall_ms` | `ComputeOps.run` ms | sandbox share |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, n, spent, totals, walls in splits:
        share = statistics.median(spent) / statistics.median(totals)
        print(
            f"| {kind} | {n} | {_median_ms(spent)} | {statistics.median(walls):g} | {_median_ms(totals)} "
            f"| {share:.1%} |"
        )
    return medians


async def main_async(args: argparse.Namespace) -> None:
    started = datetime.now(UTC)
    print(
        f"# Compute — {started:%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, wasmtime {WASMTIME_VERSION}, load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="nsl-c-") as directory:
        state = Path(directory) / "compute"
        sealer = Sealer(os.urandom(32))
        functions = await _functions()
        await cold_and_warm(functions, sealer, state, args)
        keystore = KeyStore(sealer, Revocations(sealer, None))
        key_id = keystore.create(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.COMPUTE])).info.key_id
        engine = ComputeEngine(sealer, state)
        ops = ComputeOps(engine, keystore, sealer, FETCHER)
        try:
            medians = await throughput(functions, engine, ops, key_id, args.duration)
            await limits_phase(functions[1].data, ops, key_id)
        finally:
            engine.close()
        if not args.no_api:
            await api_phase(
                {"WAT (core module)": ECHO_FOUR, "Python": PYTHON_SOURCE},
                medians,
                args.duration,
                Path(directory) / "api",
            )
    total = (datetime.now(UTC) - started).total_seconds()
    print(f"\nTotal {total:.0f} s, load average {os.getloadavg()[0]:.1f}.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="warm runs per function (median)")
    parser.add_argument("--loads", type=int, default=3, help="fresh engines loading each sealed artefact")
    parser.add_argument("--duration", type=int, default=3, help="seconds per throughput row")
    parser.add_argument("--no-api", action="store_true", help="skip the API phase (nsl enclave + nsl serve)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
