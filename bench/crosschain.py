"""Cross-chain message latency N3 <-> Neo X and a burst, through ``nsl run`` on its embedded defaults.

Usage: ``python bench/crosschain.py [--messages 10] [--burst 200] [--per-tx 50] [--runs 1] [--block-time 1]``
(or ``python -m bench.crosschain``). Each run starts its own ``nsl run`` (neo-go at ``--block-time``
seconds, anvil automining one block per transaction, enclave, worker, API) in a temp data dir, deploys
the example ``xmsg_sender`` and ``xmsg_echo_receiver`` on N3 and ``EchoReceiver`` on Neo X, then:

- ``--messages`` messages N3 -> X one at a time (the next once the previous one's receipt is stored back
  on N3), then as many X -> N3 (the next once its receipt is stored back on X);
- a burst of ``--burst`` messages N3 -> X: ``--per-tx`` ``ask`` calls per N3 transaction, the
  transactions sent at once; then a burst X -> N3: that many ``send`` transactions sent at once (anvil
  mines each in its own block).

Both gateways' events are read block by block (N3 ``getblocknotifications``, EVM logs) every 50 ms.
Seconds: an N3 event at its block's timestamp (ms), an EVM event when first read (anvil's timestamps
are whole seconds), so an X-side figure carries up to 50 ms of polling. Prints markdown and the error
lines of the run's log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: ``python bench/crosschain.py``
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from neo3.api.wrappers import ContractMethodResult  # noqa: E402
from neo3.contracts.contract import CONTRACT_HASHES  # noqa: E402
from tests.contracts.contract_support import build_contracts  # noqa: E402
from tests.e2e.chain.stack import call  # noqa: E402
from tests.e2e.test_nsl_run import EVM_USER, evm_call, processes_of  # noqa: E402

from neo_service_layer.enclave.wire.crosschain import n3_chain_id  # noqa: E402
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy  # noqa: E402
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy as deploy_evm  # noqa: E402
from neo_service_layer.kernel.chain.adapters.evm_artifacts import load_artifact  # noqa: E402
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain  # noqa: E402
from neo_service_layer.kernel.chain.adapters.evm_events import EvmEventSource  # noqa: E402
from neo_service_layer.kernel.chain.adapters.local_chain import artifact  # noqa: E402
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint, uint160  # noqa: E402
from neo_service_layer.kernel.chain.adapters.privnet import find_free_port  # noqa: E402
from neo_service_layer.services.crosschain.adapters.evm_gateway import evm_decoder  # noqa: E402
from neo_service_layer.services.crosschain.adapters.n3_gateway import n3_decoder  # noqa: E402

N3_GAS_LIMIT = 200_000  # EVM gas for EchoReceiver.onMessage (N3 -> X)
X_GAS_LIMIT = 50_000_000  # GAS fractions (0.5 GAS) for xmsg_echo_receiver.onMessage (X -> N3)
POLL = 0.05

#: (kind, source chain id, nonce) -> (block, seconds)
type Seen = dict[tuple[str, int, int], tuple[int, float]]


class Watch:
    """Both gateways' events, block by block, each first sighting with its block and time."""

    def __init__(self, n3: NeoRpcEndpoint, n3_gateway: str, n3_id: int, x: EvmChain, x_gateway: str) -> None:
        self.n3, self.n3_gateway, self.n3_decode = n3, n3_gateway, n3_decoder(n3_id)
        self.x, self.x_gateway, self.x_decode = x, x_gateway, evm_decoder(x.chain_id)
        self.x_source = EvmEventSource(x, {x_gateway: load_artifact("MessageGateway").abi})
        self.seen: Seen = {}
        self.counts: Counter[tuple[str, str, int, int]] = Counter()  # (side, kind, src, nonce) -> events
        self.n3_times: dict[int, float] = {}  # N3 block -> timestamp
        self.x_height = 0

    async def _n3(self) -> None:
        index = int(await self.n3.client.get_block_count()) - 1
        while True:
            if index >= int(await self.n3.client.get_block_count()):
                await asyncio.sleep(POLL)
                continue
            events, _ = await self.n3.block_events(index, self.n3_gateway)
            when = (await self.n3.block_time(index)).timestamp()
            self.n3_times[index] = when
            self._note("n3", self.n3_decode(events), when)
            index += 1

    async def _x(self) -> None:
        index = await self.x.block_number()
        while True:
            self.x_height = await self.x.block_number()
            if index > self.x_height:
                await asyncio.sleep(POLL)
                continue
            block = await self.x_source.block_events(index, self.x_gateway)
            self._note("x", self.x_decode(block.events), time.time())
            index += 1

    def _note(self, side: str, facts: list[Any], when: float) -> None:
        for f in facts:
            kind = type(f).__name__
            self.counts[(side, kind, f.src_chain, f.nonce)] += 1
            self.seen.setdefault((kind, f.src_chain, f.nonce), (f.block, when))

    def n3_head_at(self, moment: float) -> int:
        return max((i for i, t in self.n3_times.items() if t <= moment), default=0)

    async def until(self, keys: list[tuple[str, int, int]], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(k in self.seen for k in keys):
            if time.monotonic() > deadline:
                missing = [k for k in keys if k not in self.seen]
                raise TimeoutError(f"{len(missing)} events not seen, first {missing[:3]}")
            await asyncio.sleep(POLL)


@asynccontextmanager
async def nsl_run(block_time: float, keep: bool) -> AsyncIterator[tuple[Path, dict[str, Any]]]:
    """``nsl run`` in a temp data dir up to a ready chain; Ctrl-C on exit, then its log's error lines."""
    build_contracts()
    data_dir = Path(tempfile.mkdtemp(prefix="nsl-xbench-"))
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    env.update(
        NSL_DATA_DIR=str(data_dir),
        NSL_HTTP_PORT=str(port),
        NSL_NEO_BLOCK_TIME_SECONDS=str(block_time),
        NSL_LOG_FORMAT="json",
    )
    log = (data_dir / "run.log").open("ab")
    runner = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "neo_service_layer", "run",
        env=env, stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                if runner.returncode is not None or time.monotonic() - started > 120:
                    raise RuntimeError(f"nsl run did not come up; see {data_dir / 'run.log'}")
                with suppress(httpx.HTTPError, ValueError):
                    ready = (await client.get("/health/ready")).json()
                    if ready["components"].get("chain", {}).get("status") == "up":
                        break
                await asyncio.sleep(0.2)
        print(f"nsl run up in {time.monotonic() - started:.1f} s ({data_dir})", file=sys.stderr)
        yield data_dir, json.loads((data_dir / "network.json").read_text())
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(runner.wait(), 60)
        except TimeoutError:
            os.killpg(runner.pid, signal.SIGKILL)
            await runner.wait()
        log.close()
        bad = [
            line.strip()
            for line in (data_dir / "run.log").read_text(errors="replace").splitlines()
            if ("error" in line.lower() and '"level": "info"' not in line) or "Traceback" in line
        ]
        print(f"\nnsl run exit code {runner.returncode}; log lines with error/Traceback: {len(bad)}")
        for line in bad[:20]:
            print(f"    {line[:600]}")
        for _ in range(100):
            if not processes_of(data_dir):
                break
            await asyncio.sleep(0.1)
        if keep or bad:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def one_run(args: argparse.Namespace) -> dict[str, Any]:
    async with nsl_run(args.block_time, args.keep) as (_data_dir, network):
        neox = network["neox"]
        n3_id, x_id = n3_chain_id(int(network["magic"])), int(neox["chain_id"])
        n3_gw, x_gw = network["contracts"]["crosschain"], neox["contracts"]["crosschain"]
        facade = deploy.make_facade(network["rpc_url"], network["block_time"])
        committee = deploy.committee_invoker(facade, network["block_time"])
        x = EvmChain([neox["rpc_url"]], x_id, receipt_timeout=60)
        n3 = NeoRpcEndpoint(network["rpc_url"])
        watch = Watch(n3, n3_gw, n3_id, x, x_gw)
        tasks = [asyncio.create_task(watch._n3()), asyncio.create_task(watch._x())]
        try:
            return await measure(args, watch, committee, x, n3_id, x_id, n3_gw, x_gw)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await x.close()
            await n3.close()


async def measure(
    args: argparse.Namespace, watch: Watch, committee: deploy.AccountInvoker, x: EvmChain,
    n3_id: int, x_id: int, n3_gw: str, x_gw: str,
) -> dict[str, Any]:  # fmt: skip
    total = args.messages + args.burst
    echo = await deploy_evm(x, EVM_USER, load_artifact("EchoReceiver"), x_gw)
    burst_echo = await deploy_evm(x, EVM_USER, load_artifact("EchoReceiver"), x_gw)
    nef, manifest = artifact("xmsg_sender")
    sender = await deploy.deploy_contract(committee, nef, manifest, uint160(n3_gw))
    fund = 2 * deploy.GAS + total * 10**6  # fees of 0.003 GAS a message, and spare
    await committee.invoke(
        call(CONTRACT_HASHES.GAS_TOKEN, "transfer", committee.script_hash, sender, fund, None)
    )
    nef, manifest = artifact("xmsg_echo_receiver")
    n3_echo = await deploy.deploy_contract(committee, nef, manifest, [uint160(n3_gw), committee.script_hash])
    gateway = x.contract(x_gw, load_artifact("MessageGateway").abi)
    fee_call = bytes.fromhex(gateway.encode_abi("feeOf", args=[n3_id, X_GAS_LIMIT])[2:])
    fee = int.from_bytes(await x.read({"to": x_gw, "data": fee_call}), "big")

    def asks(receiver: str, first: int, count: int) -> ContractMethodResult[Any]:
        script = b"".join(
            call(sender, "ask", x_id, bytes.fromhex(receiver[2:]), b"m%d" % (first + i), N3_GAS_LIMIT).script
            for i in range(count)
        )
        return ContractMethodResult(script)

    async def x_send(receiver: Any, payload: bytes) -> float:
        data = gateway.encode_abi("send", args=[n3_id, receiver.to_array(), payload, X_GAS_LIMIT])
        await x.send(EVM_USER, x_gw, bytes.fromhex(data[2:]), value=fee)
        return time.time()

    n3_nonce = x_nonce = 0
    out: dict[str, Any] = {"n3_to_x": [], "x_to_n3": []}
    for _ in range(args.messages):  # N3 -> X, one at a time
        x_before = watch.x_height
        await committee.invoke(asks(echo, n3_nonce, 1))
        n3_nonce += 1
        await watch.until([("Executed", n3_id, n3_nonce), ("ReceiptStored", n3_id, n3_nonce)], 120)
        sent_block, sent_at = watch.seen[("Sent", n3_id, n3_nonce)]
        x_block, x_at = watch.seen[("Executed", n3_id, n3_nonce)]
        back_block, back_at = watch.seen[("ReceiptStored", n3_id, n3_nonce)]
        out["n3_to_x"].append(
            (watch.n3_head_at(x_at) - sent_block, x_block - x_before, x_at - sent_at,
             back_block - sent_block, back_at - sent_at)
        )  # fmt: skip
    for _ in range(args.messages):  # X -> N3, one at a time
        sent_at = await x_send(n3_echo, b"p%d" % x_nonce)
        x_nonce += 1
        await watch.until([("Executed", x_id, x_nonce), ("ReceiptStored", x_id, x_nonce)], 120)
        sent_block, _ = watch.seen[("Sent", x_id, x_nonce)]
        n3_block, n3_at = watch.seen[("Executed", x_id, x_nonce)]
        back_block, back_at = watch.seen[("ReceiptStored", x_id, x_nonce)]
        out["x_to_n3"].append(
            (n3_block - watch.n3_head_at(sent_at), back_block - sent_block, n3_at - sent_at,
             back_at - sent_at)
        )  # fmt: skip
    if args.burst:
        out["burst_n3"] = await burst_n3(args, watch, committee, x, asks, burst_echo, n3_id, n3_nonce)
        out["burst_x"] = await burst_x(args, watch, committee, x_send, n3_echo, x_id, x_nonce)
    return out


async def burst_n3(
    args: argparse.Namespace, watch: Watch, committee: deploy.AccountInvoker, x: EvmChain,
    asks: Any, echo: str, n3_id: int, first: int,
) -> dict[str, Any]:  # fmt: skip
    sizes = [min(args.per_tx, args.burst - i) for i in range(0, args.burst, args.per_tx)]
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    # the dry runs all see the state before the burst; 1 GAS more system fee each covers the difference
    bursts = (
        committee.invoke(asks(echo, first + s, n), append_system_fee=deploy.GAS)
        for s, n in zip(starts, sizes, strict=True)
    )
    await asyncio.gather(*bursts)
    nonces = range(first + 1, first + args.burst + 1)
    await watch.until([("Executed", n3_id, n) for n in nonces], 600)
    await watch.until([("ReceiptStored", n3_id, n) for n in nonces], 600)
    sent = [watch.seen[("Sent", n3_id, n)] for n in nonces]
    done = [watch.seen[("Executed", n3_id, n)] for n in nonces]
    back = [watch.seen[("ReceiptStored", n3_id, n)] for n in nonces]
    first_block, first_at = min(sent)
    received = await x.read({"to": echo, "data": evm_call(x, echo, "EchoReceiver", "received")})
    return {
        "sent_blocks": dict(Counter(b - first_block for b, _ in sent)),
        "txs": len(sizes),
        "x_blocks": (min(b for b, _ in done), max(b for b, _ in done)),
        "executed_s": max(t for _, t in done) - first_at,
        "first_executed_s": min(t for _, t in done) - first_at,
        "n3_blocks_to_executed": watch.n3_head_at(max(t for _, t in done)) - first_block,
        "receipts_s": max(t for _, t in back) - first_at,
        "receipt_blocks": dict(sorted(Counter(b - first_block for b, _ in back).items())),
        "received": int.from_bytes(received, "big"),
        "once": all(watch.counts[("x", "Executed", n3_id, n)] == 1 for n in nonces),
    }


async def burst_x(
    args: argparse.Namespace, watch: Watch, committee: deploy.AccountInvoker, x_send: Any,
    receiver: Any, x_id: int, first: int,
) -> dict[str, Any]:  # fmt: skip
    before = (await committee.test(call(receiver, "received"))).result.stack[0].as_int()
    started = time.time()
    await asyncio.gather(*(x_send(receiver, b"b%d" % i) for i in range(args.burst)))
    sent_s = time.time() - started
    nonces = range(first + 1, first + args.burst + 1)
    await watch.until([("Executed", x_id, n) for n in nonces], 600)
    await watch.until([("ReceiptStored", x_id, n) for n in nonces], 600)
    done = [watch.seen[("Executed", x_id, n)] for n in nonces]
    back = [watch.seen[("ReceiptStored", x_id, n)] for n in nonces]
    base = watch.n3_head_at(started)
    received = (await committee.test(call(receiver, "received"))).result.stack[0].as_int()
    return {
        "sent_s": sent_s,
        "executed_blocks": dict(sorted(Counter(b - base for b, _ in done).items())),
        "executed_s": max(t for _, t in done) - started,
        "receipts_s": max(t for _, t in back) - started,
        "received": int(received) - int(before),
        "once": all(watch.counts[("n3", "Executed", x_id, n)] == 1 for n in nonces),
    }


def _stats(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} / {max(values):.{digits}f}"


def report(args: argparse.Namespace, runs: list[dict[str, Any]], started: datetime) -> str:
    uname = platform.uname()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")  # fmt: skip
    load = os.getloadavg()
    lines = [
        f"## Cross-chain messages N3 <-> Neo X — {started:%Y-%m-%d %H:%M} UTC ({uname.node}, {cpu}, "
        f"{os.cpu_count()} cores, kernel {uname.release}, python {platform.python_version()})",
        "",
        f"`python bench/crosschain.py --messages {args.messages} --burst {args.burst} --per-tx {args.per_tx} "
        f"--runs {args.runs}`: `nsl run` defaults, N3 blocks every {args.block_time:g} s, anvil automining; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. {len(runs)} run(s).",
        "",
    ]
    nx = [m for r in runs for m in r["n3_to_x"]]
    xn = [m for r in runs for m in r["x_to_n3"]]
    if nx:
        lines += [
            f"One at a time, median / max over {len(nx)} messages each way:", "",
            "| direction | N3 blocks | X blocks | seconds to executed | round trip blocks | round trip s |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| N3 → X | {_stats([m[0] for m in nx], 0)} | {_stats([m[1] for m in nx], 0)} | "
            f"{_stats([m[2] for m in nx])} | {_stats([m[3] for m in nx], 0)} (N3) | "
            f"{_stats([m[4] for m in nx])} |",
            f"| X → N3 | {_stats([m[0] for m in xn], 0)} | n/a | {_stats([m[2] for m in xn])} | "
            f"{_stats([m[1] for m in xn], 0)} (X) | {_stats([m[3] for m in xn])} |",
            "",
        ]  # fmt: skip
    for k, r in enumerate(runs, 1):
        if "burst_n3" in r:
            b, y = r["burst_n3"], r["burst_x"]
            lines += [
                f"Run {k}, burst N3 → X of {args.burst} in {b['txs']} transaction(s), N3 blocks of the "
                f"sends (relative) {b['sent_blocks']}: first executed on X after "
                f"{b['first_executed_s']:.2f} s, all after {b['executed_s']:.2f} s (X blocks "
                f"{b['x_blocks'][0]} to {b['x_blocks'][1]}, N3 blocks "
                f"meanwhile {b['n3_blocks_to_executed']}); EchoReceiver.received() = {b['received']}, each "
                f"nonce executed once: {b['once']}; all receipts back on N3 after {b['receipts_s']:.2f} s, "
                f"receipts per N3 block after the first send's block {b['receipt_blocks']}.",
                "",
                f"Run {k}, burst X → N3 of {args.burst} `send` transactions (one anvil block each, sent in "
                f"{y['sent_s']:.2f} s): executed per N3 block after the head at the first send "
                f"{y['executed_blocks']}, all executed after {y['executed_s']:.2f} s; received() = "
                f"{y['received']}, once: {y['once']}; all receipts back on X after {y['receipts_s']:.2f} s.",
                "",
            ]
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    started = datetime.now(UTC)
    runs = []
    for k in range(args.runs):
        t0 = time.monotonic()
        runs.append(await one_run(args))
        print(f"run {k + 1} took {time.monotonic() - t0:.0f} s", file=sys.stderr)
    print(report(args, runs, started))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=10, help="messages each way, one at a time")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--per-tx", type=int, default=50, help="ask calls per N3 transaction in the burst")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--block-time", type=float, default=1.0, help="N3 block time, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (run.log, chains)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
