"""Kill anything, lose nothing, at scale: the chaos run of ``tests/e2e/chain/chaos.py`` with more requests
and kills, several seeds, and optionally node kills that lose the blocks neo-go had not written yet.

Usage: ``python -m bench.chaos [--requests 1000] [--kills 20] [--runs 1] [--seed 1] [--concurrency 4]
[--pace 0.1] [--block-time 0.1] [--settle-timeout 120] [--lossy-node] [--no-api] [--no-automation]
[--no-native] [--postgres]``.

Each run is a fresh installation (neo-go privnet, enclave process, SQLite or, with ``--postgres``, a
private PostgreSQL server started for the run on its own loopback port, ``nsl worker`` subprocesses,
``nsl serve`` called all along by a client that also writes secrets and oracle templates, a dice consumer
and an oracle price consumer fetching from a loopback web server, unless ``--no-native`` a plain Neo
contract asking Neo's native Oracle (answered by our node) for a loopback https URL, and, unless
``--no-automation``, the example automation target with an event upkeep on its ``Ping``). The requests
are dice rolls and oracle requests in turn, every third one a ping the upkeep must perform exactly once
and every sixth one a native Oracle request; meanwhile the worker, the
enclave, the node, the API (unless ``--no-api``) and the database server (with ``--postgres``) are
killed with SIGKILL in turn at seeded points (each once work is in flight) and started again. Node
kills land at a moment when neo-go has every block it made on disk, unless ``--lossy-node``: then at
any moment, and the node makes the blocks it lost again differently (a single validator; see
docs/reliability.md). Prints markdown: per run, the kills and the verdict (every request on chain
answered exactly once, recorded delivered, no outbox transaction both pending and on chain), the native
Oracle's callbacks, and what the API's client saw (its writes: acknowledged ones all there with their
values, failed ones there or not, none twice).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tests.contracts.contract_support import build_contracts
from tests.e2e.chain.chaos import TARGETS, Chaos, Report, plan
from tests.e2e.chain.chaos_api import ApiClient, api_key
from tests.e2e.chain.chaos_automation import AutomationMix
from tests.e2e.chain.chaos_native import NativeMix, NativeReport
from tests.e2e.chain.chaos_writes import WriteReport
from tests.e2e.chain.oracle_support import web_server
from tests.e2e.chain.pg_server import PgServer, binaries
from tests.e2e.chain.stack import close_stack, open_stack
from tests.e2e.chain.tls_support import https_server, make_certificates


async def one_run(seed: int, args: argparse.Namespace) -> Report:
    server = None
    if args.postgres:
        found = binaries()
        if found is None:
            raise SystemExit("--postgres needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        server = PgServer(found)
        await server.start()
    try:
        return await _run_on(seed, args, server)
    finally:
        if server is not None:
            server.stop()


async def _run_on(seed: int, args: argparse.Namespace, server: PgServer | None) -> Report:
    certificates = make_certificates(Path(tempfile.mkdtemp(prefix="nsl-tls-")))  # Neo's oracle: https only
    stack = await open_stack(
        database_url=server.url if server is not None else None,
        block_time=args.block_time,
        oracle_allow_hosts="127.0.0.1",
        oracle_allow_http="true",
        oracle_ca_file=str(certificates.ca_file),
    )
    targets = (*TARGETS, *(() if args.no_api else ("api",)), *(("database",) if server else ()))
    api = None if args.no_api else ApiClient(stack, await api_key(stack))
    try:
        with web_server() as web, https_server(certificates) as tls:
            chaos = Chaos(
                stack,
                web,
                seed,
                durable_node_kills=not args.lossy_node,
                api=api,
                database=server,
                automation=None if args.no_automation else AutomationMix(stack),
                native=None if args.no_native else NativeMix(stack, tls),
            )
            return await chaos.run(
                args.requests,
                plan(seed, args.requests, args.kills, targets),
                concurrency=args.concurrency,
                pace=args.pace,
                settle_timeout=args.settle_timeout,
            )
    finally:
        if api is not None:
            api.stop()
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)
        shutil.rmtree(certificates.ca_file.parent, ignore_errors=True)


def render(args: argparse.Namespace, reports: list[Report], seconds: float) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "lossy node kills (any moment)" if args.lossy_node else "node kills with every block on disk"
    lines = [
        f"## Chaos: kill anything, lose nothing — {when} ({platform.node() or 'vm'}, {platform.machine()}, "
        f"python {platform.python_version()}, commit {commit})",
        "",
        f"`python -m bench.chaos --requests {args.requests} --kills {args.kills} --runs {args.runs} "
        f"--seed {args.seed} --concurrency {args.concurrency} --pace {args.pace} "
        f"--block-time {args.block_time} --settle-timeout {args.settle_timeout:g}"
        f"{' --lossy-node' if args.lossy_node else ''}{' --no-api' if args.no_api else ''}"
        f"{' --no-automation' if args.no_automation else ''}{' --no-native' if args.no_native else ''}"
        f"{' --postgres' if args.postgres else ''}`: {len(reports)} run(s), {mode}, "
        f"{'a private PostgreSQL server' if args.postgres else 'SQLite'}, "
        f"neo-go single node at {args.block_time:g} s blocks; {seconds:.0f} s in all.",
        "",
        "| seed | requests on chain (beyond the plan) | exactly once | unanswered | doubled "
        "| not recorded delivered "
        "| outbox included / expired / wrong | resends | kills (down s; in flight) | node blocks made again "
        "| sends failed | rows in the database | settle s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        v = r.verdict
        kills = Counter(k.target for k in r.kills)
        landed = sum(k.in_flight for k in r.kills)
        down = max((k.seconds_down for k in r.kills), default=0.0)
        lines.append(
            f"| {r.seed} | {v.requests} ({r.extra}) | {v.exactly_once} | {len(v.unanswered)} "
            f"| {len(v.doubled)} "
            f"| {len(v.not_recorded)} | {v.outbox['included']} / {v.outbox['expired']} "
            f"/ {len(v.outbox_wrong)} "
            f"| {v.resends} | {', '.join(f'{t} {n}' for t, n in sorted(kills.items()))} (max {down:.1f}; "
            f"{landed}/{len(r.kills)}) | {sum(k.rewritten for k in r.kills)} | {r.send_errors} "
            f"| {', '.join(f'{n} {status}' for status, n in sorted(v.statuses.items()))} "
            f"| {r.settle_seconds:.1f} |"
        )
    wrong = [
        f"- seed {r.seed}: {detail}"
        for r in reports
        for detail in (
            *r.verdict.unanswered,
            *r.verdict.doubled,
            *r.verdict.not_recorded,
            *r.verdict.outbox_wrong,
            *((*r.api.unexpected, *r.api.offchain_invalid, *r.api.state_wrong) if r.api is not None else ()),
            *(_writes_wrong(r.api.writes) if r.api is not None and r.api.writes is not None else ()),
            *(_native_wrong(r.native) if r.native is not None else ()),
        )
    ]
    for r in reports:
        if r.automation is not None:
            m = r.automation
            lines += [
                "",
                f"Automation (seed {r.seed}): {m.pings} pings on chain, {m.performed_once} performed exactly "
                f"once, {len(m.missing)} never, {len(m.doubled)} more than once, {len(m.unexpected)} runs of "
                "no ping",
            ]
        if r.native is not None:
            n = r.native
            lines += [
                "",
                f"Native Oracle (seed {r.seed}): {n.requests} requests on chain, {n.called_once} whose "
                f"response ran the callback exactly once with the fetched result, {len(n.not_called)} never, "
                f"{len(n.called_twice)} more than once, {len(n.wrong)} with another result; "
                f"{n.fetches} fetches",
            ]
        if r.api is not None and r.api.writes is not None:
            w = r.api.writes
            lines += [
                "",
                f"API writes (seed {r.seed}): {w.acknowledged} acknowledged, {w.failed} failed (cut off or "
                f"503; {w.failed_present} of them there all the same); {len(w.lost)} acknowledged and "
                f"missing, {len(w.corrupt)} with another value, {len(w.duplicated)} applied twice",
            ]
        if r.api is not None:
            a = r.api
            lines += [
                "",
                f"API (seed {r.seed}): {sum(a.statuses.values())} calls answered "
                f"({', '.join(f'{n} x {s}' for s, n in sorted(a.statuses.items()))}), {a.cut} cut off; "
                f"{a.restarts} restarts, answered again after {a.answered_after_restart}; "
                f"{a.offchain_answers} off-chain answers, {len(a.offchain_invalid)} not verifying; "
                f"{len(a.state_wrong)} on-chain requests shown otherwise than delivered; "
                f"{len(a.unexpected)} unexpected answers",
                *(f"- {u}" for u in a.unexpected[:10]),
                *(f"- shown otherwise: {w}" for w in a.state_wrong[:10]),
            ]
    errors = Counter[str]()
    for r in reports:
        errors.update(r.worker_errors)
    lines += ["", "Every run correct." if not wrong else "What went wrong:", *wrong[:40]]
    lines += ["", "Error lines in the workers' logs:" if errors else "No error line in the workers' logs."]
    lines += [f"- {n} times: {event}" for event, n in errors.most_common(10)]
    return "\n".join(lines)


def _writes_wrong(w: WriteReport) -> list[str]:
    return [*(f"write lost: {x}" for x in w.lost), *(f"write corrupt: {x}" for x in w.corrupt)] + [
        f"write applied twice: {x}" for x in w.duplicated
    ]


def _native_wrong(n: NativeReport) -> list[str]:
    return [
        *(f"native Oracle request #{x}: no callback" for x in n.not_called),
        *(f"native Oracle request {x}: callbacks" for x in n.called_twice),
        *(f"native Oracle callback {x}" for x in n.wrong),
        *(f"native Oracle tag {x} answered twice" for x in n.tags_twice),
    ]


async def main_async(args: argparse.Namespace) -> str:
    build_contracts()
    began = time.monotonic()
    reports = []
    for i in range(args.runs):
        reports.append(await one_run(args.seed + i, args))
    return render(args, reports, time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pace", type=float, default=0.1, help="seconds between request starts")
    parser.add_argument("--block-time", type=float, default=0.1)
    parser.add_argument("--lossy-node", action="store_true")
    parser.add_argument("--no-api", action="store_true", help="no API process (and no API kills)")
    parser.add_argument(
        "--settle-timeout", type=float, default=120.0, help="seconds to wait for the last answers"
    )
    parser.add_argument("--no-automation", action="store_true", help="no automation pings in the mix")
    parser.add_argument("--no-native", action="store_true", help="no native Oracle requests in the mix")
    parser.add_argument("--postgres", action="store_true", help="a private PostgreSQL server, killed too")
    args = parser.parse_args()
    targets = 3 + (not args.no_api) + args.postgres
    if args.kills < targets or args.requests < 10 * args.kills:
        parser.error(
            f"--kills must be at least {targets} (one per target) and --requests at least 10 per kill"
        )
    print(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
