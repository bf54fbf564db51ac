"""Neo's native Oracle served by neo-go's own oracle service (run A) and by our node (run B), side by side.

Usage: ``python -m bench.native_oracle [--requests 20] [--burst 250] [--block-time 1.0] [--only ours]
[--distinct-urls]``.

Both runs use the same local chain config (one neo-go 0.120.0 validator, ``--block-time`` blocks), the
same consumer (``contracts/examples/native_oracle_consumer.py``, 1 GAS for the response), the same URL
served over https from loopback with a throwaway test CA, and the same requests:

1. ``--requests`` sequential requests (the next one is sent once the previous callback is in): blocks and
   seconds (block timestamps) from the request's block to the callback's block;
2. a burst of ``--burst`` requests sent together (transactions of 50 ``Oracle.request`` calls, signed and
   sent at once): the distribution of callback blocks after the requests' block. With
   ``--distinct-urls`` each request of the burst asks its own URL (``/ticker/<n>``): as many fetches.

Run A: neo-go's oracle service on (``Oracle.Enabled``, ``AllowPrivateHost``, the validator wallet
unlocked, ``SSL_CERT_FILE`` = the test CA), the validator key designated; nothing of ours runs. Run B:
neo-go's oracle off, the enclave's node key designated (``nsl chain up`` provisioning), one ``nsl worker``
subprocess. Bounded: every wait has a timeout; every process is stopped at the end. Prints markdown.

CPU: the user + system CPU seconds of each process (``/proc/PID/stat``) while the burst is answered (from
just before it is sent until its last callback is found), and the same processes' idle rate over 4 s
before it: neo-go's node in both runs, our enclave and worker in run B. A figure that does not depend
on the machine's load as much as blocks do. With ``NSL_BENCH_PYSPY=DIR`` (opt-in: the sampler costs CPU
too), each of our processes is sampled by ``py-spy record --format raw`` during the burst into
``DIR/<name>.txt`` (collapsed stacks, one line per stack with its sample count).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neo3.api.wrappers import ContractMethodResult
from neo3.core import types
from tests.e2e.chain.neogo_oracle import deploy_consumer, neo_go_oracle
from tests.e2e.chain.stack import call, close_stack, open_stack
from tests.e2e.chain.tls_support import LoopbackCertificates, https_server, make_certificates

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
from neo_service_layer.services.native_oracle.adapters.node import designated_oracles

GAS_FOR_RESPONSE = deploy.GAS
PER_TRANSACTION = 50
PATH = "/ticker"
BODY = {"price": 42.17, "volume": 3}
FILTER = "$.price"
#: seconds before the burst over which each process's idle CPU rate is measured
IDLE_SECONDS = 4.0


@dataclass
class Setup:
    rpc_url: str
    committee: deploy.AccountInvoker
    consumer: types.UInt160
    #: name -> pid of the processes whose CPU time the burst is charged with
    processes: dict[str, int]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(processes: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in processes.items()}


def start_samplers(processes: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` of each process into ``$NSL_BENCH_PYSPY/<name>.txt`` (opt-in)."""
    directory = os.environ.get("NSL_BENCH_PYSPY")
    if not directory:
        return []
    Path(directory).mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--format",
                "raw",
                "--rate",
                "200",
                "--nonblocking",
                "--pid",
                str(pid),
                "-o",
                str(Path(directory) / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in processes.items()
        if name != "neo-go"
    ]


def stop_samplers(samplers: list[subprocess.Popen[bytes]]) -> None:
    for sampler in samplers:
        sampler.send_signal(signal.SIGINT)
    for sampler in samplers:
        try:
            sampler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait()


async def callback_blocks(
    rpc_url: str, consumer: types.UInt160, tags: set[int], first: int, timeout: float
) -> dict[int, int]:
    """Block of the ``Answered`` event of each tag, scanning from block ``first``."""
    endpoint = NeoRpcEndpoint(rpc_url)
    found: dict[int, int] = {}
    index = first
    deadline = time.monotonic() + timeout
    try:
        while set(found) != tags:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no callback for {sorted(tags - set(found))[:10]} within {timeout}s")
            head = await endpoint.client.get_block_count() - 1
            while index <= head:
                events, _ = await endpoint.block_events(index, f"0x{consumer}")
                for event in events:
                    if event.name == "Answered" and int(event.values[0]) in tags:
                        found.setdefault(int(event.values[0]), index)
                index += 1
            await asyncio.sleep(0.02)
    finally:
        await endpoint.close()
    return found


async def block_time(rpc_url: str, index: int) -> float:
    endpoint = NeoRpcEndpoint(rpc_url)
    try:
        return (await endpoint.block_time(index)).timestamp()
    finally:
        await endpoint.close()


def burst_calls(consumer: types.UInt160, url: str, first: int, burst: int, distinct: bool) -> list[Any]:
    """One call per transaction of ``PER_TRANSACTION`` requests: ``requestMany`` of one URL, or with
    ``distinct`` that many ``request`` calls of ``url/<n>`` in one script (a URL per request)."""
    out: list[Any] = []
    for start in range(0, burst, PER_TRANSACTION):
        count = min(PER_TRANSACTION, burst - start)
        if not distinct:
            out.append(call(consumer, "requestMany", url, FILTER, first + start, count, GAS_FOR_RESPONSE))
            continue
        each = [
            call(consumer, "request", f"{url}/{n}", FILTER, first + n, GAS_FOR_RESPONSE)
            for n in range(start, start + count)
        ]
        out.append(ContractMethodResult(b"".join(c.script for c in each), None, return_count=len(each)))
    return out


async def measure(
    setup: Setup, url: str, requests: int, burst: int, block: float, distinct: bool = False
) -> dict[str, Any]:
    timeout = max(30 * block, 15.0)
    # warm-up (not counted): the first answer includes connection set-up on either side
    receipt = await setup.committee.invoke(call(setup.consumer, "request", url, FILTER, 0, GAS_FOR_RESPONSE))
    await callback_blocks(setup.rpc_url, setup.consumer, {0}, receipt.included_in_block, timeout)
    blocks: list[int] = []
    seconds: list[float] = []
    for tag in range(1, requests + 1):
        receipt = await setup.committee.invoke(
            call(setup.consumer, "request", url, FILTER, tag, GAS_FOR_RESPONSE)
        )
        asked = int(receipt.included_in_block)
        answered = (await callback_blocks(setup.rpc_url, setup.consumer, {tag}, asked, timeout))[tag]
        blocks.append(answered - asked)
        seconds.append(await block_time(setup.rpc_url, answered) - await block_time(setup.rpc_url, asked))
    first = 10_000
    calls = burst_calls(setup.consumer, url, first, burst, distinct)
    cpu_idle = cpu_snapshot(setup.processes)
    await asyncio.sleep(IDLE_SECONDS)
    samplers = start_samplers(setup.processes)
    cpu_before = cpu_snapshot(setup.processes)
    started = time.monotonic()
    receipts = await asyncio.gather(*(setup.committee.invoke(c) for c in calls))
    request_blocks = [int(r.included_in_block) for r in receipts]
    tags = set(range(first, first + burst))
    found = await callback_blocks(setup.rpc_url, setup.consumer, tags, min(request_blocks), timeout * 4)
    burst_seconds = time.monotonic() - started
    stop_samplers(samplers)
    cpu_after = cpu_snapshot(setup.processes)
    after = Counter(b - max(request_blocks) for b in found.values())
    return {
        "cpu_burst": {n: cpu_after[n] - cpu_before[n] for n in setup.processes},
        "cpu_idle_rate": {n: (cpu_before[n] - cpu_idle[n]) / IDLE_SECONDS for n in setup.processes},
        "burst_seconds": burst_seconds,
        "blocks": blocks,
        "seconds": seconds,
        "burst_request_blocks": sorted(set(request_blocks)),
        "burst_after": dict(sorted(after.items())),
    }


@asynccontextmanager
async def neo_go_run(certificates: LoopbackCertificates, block: float) -> AsyncIterator[Setup]:
    async with neo_go_oracle(certificates, block) as node:
        yield Setup(node.rpc_url, node.committee, node.consumer, {"neo-go": node.pid} if node.pid else {})


@asynccontextmanager
async def our_run(certificates: LoopbackCertificates, block: float) -> AsyncIterator[Setup]:
    stack = await open_stack(
        block_time=block, oracle_allow_hosts="127.0.0.1", oracle_ca_file=str(certificates.ca_file)
    )
    try:
        key = bytes.fromhex(stack.network.service_keys["native_oracle"])
        assert await designated_oracles(stack.net.rpc_url) == (key,)
        consumer = await deploy_consumer(stack.committee)
        worker = stack.start_worker()
        processes = {"enclave": stack.enclave.pid, "worker": worker.pid}
        if stack.net.pid:
            processes["neo-go"] = stack.net.pid
        yield Setup(stack.net.rpc_url, stack.committee, consumer, processes)
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)


def burst_blocks(result: dict[str, Any]) -> str:
    """Median and max of the blocks after the burst's last request block at which its callbacks landed."""
    after = [k for k, n in result["burst_after"].items() for _ in range(n)]
    return f"median +{statistics.median(after):g}, max +{max(after)}" if after else "none"


def _line(name: str, result: dict[str, Any]) -> str:
    blocks, seconds = result["blocks"], result["seconds"]
    burst_total = sum(result["burst_after"].values())
    last = max(result["burst_after"]) if result["burst_after"] else None
    return (
        f"| {name} | {statistics.median(blocks):g} / {max(blocks)} | "
        f"{statistics.median(seconds):.2f} / {max(seconds):.2f} | "
        f"{burst_total} in block(s) {result['burst_request_blocks']} | "
        f"{', '.join(f'+{k}: {v}' for k, v in result['burst_after'].items())} | +{last} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--burst", type=int, default=250)
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--only", choices=("neo-go", "ours"), default=None, help="run one side only")
    parser.add_argument(
        "--distinct-urls", action="store_true", help="the burst asks a different URL per request"
    )
    args = parser.parse_args()
    tls_dir = Path(tempfile.mkdtemp(prefix="nsl-bench-tls-"))
    certificates = make_certificates(tls_dir)
    results: dict[str, dict[str, Any]] = {}
    try:
        with https_server(certificates) as web:
            web.routes[PATH] = BODY
            for n in range(args.burst):
                web.routes[f"{PATH}/{n}"] = BODY
            url = web.url(PATH)
            if args.only != "ours":
                fetched = sum(web.hits.values())
                async with neo_go_run(certificates, args.block_time) as setup:
                    results["A: neo-go oracle service"] = await measure(
                        setup, url, args.requests, args.burst, args.block_time, args.distinct_urls
                    )
                results["A: neo-go oracle service"]["fetches"] = sum(web.hits.values()) - fetched
            if args.only != "neo-go":
                fetched = sum(web.hits.values())
                async with our_run(certificates, args.block_time) as setup:
                    results["B: our node (enclave + worker)"] = await measure(
                        setup, url, args.requests, args.burst, args.block_time, args.distinct_urls
                    )
                results["B: our node (enclave + worker)"]["fetches"] = sum(web.hits.values()) - fetched
    finally:
        shutil.rmtree(tls_dir, ignore_errors=True)
    print(
        f"\n### Native Oracle: neo-go's oracle service vs our node ({platform.machine()}, "
        f"{os.cpu_count()} cores, {args.block_time:g} s blocks, {args.requests} sequential, "
        f"burst of {args.burst}{' to as many URLs' if args.distinct_urls else ''})\n"
    )
    print(
        "| run | request→callback blocks (median / max) | seconds (median / max) | burst requests "
        "included | burst callbacks per block after the last request block | last |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        print(_line(name, result))
    for name, result in results.items():
        seconds = [round(s, 2) for s in result["seconds"]]
        print(
            f"\n{name}: blocks {result['blocks']}; seconds {seconds}; burst {burst_blocks(result)}; "
            f"{result['fetches']} fetches in all"
        )
        burst = sum(result["burst_after"].values()) or 1
        print(
            f"{name}: CPU during the burst ({result['burst_seconds']:.1f} s, send to last callback): "
            + "; ".join(
                f"{process} {cpu:.2f} s = {1000 * cpu / burst:.1f} ms/request "
                f"(idle {result['cpu_idle_rate'][process]:.3f} s/s)"
                for process, cpu in result["cpu_burst"].items()
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
