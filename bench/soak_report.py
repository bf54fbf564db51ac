"""The markdown block of ``bench.soak`` for ``bench/RESULTS.md``, and which criteria failed."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bench.soak_load import ChainLoad, HttpLoad
from bench.soak_probe import Windows

if TYPE_CHECKING:
    from bench.soak import Soak

RSS_LIMIT_PERCENT = 10.0


def windows(args: argparse.Namespace) -> Windows:
    long = args.minutes >= 20
    warmup = args.warmup_minutes if args.warmup_minutes is not None else (5.0 if long else 0.0)
    window = args.window_minutes if args.window_minutes is not None else (5.0 if long else 1.0)
    return Windows(warmup * 60, window * 60, args.minutes * 60)


def render(
    args: argparse.Namespace, soak: Soak, load: HttpLoad, chain: ChainLoad, logs: Counter[str]
) -> tuple[str, list[str]]:
    """The markdown block and the failed criteria."""
    span = windows(args)
    span.split(soak.samples)
    failed: list[str] = []
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    database = "PostgreSQL" if args.postgres else "SQLite"
    ops = sum(load.done.values()) + sum(load.errors.values())
    latencies = sorted(load.latencies)
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    lines = [
        f"## Soak — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({platform.node() or 'vm'}, "
        f"{os.cpu_count()} cores, {memory_gb:.0f} GB, python {platform.python_version()}, commit {commit})",
        "",
        f"`python -m bench.soak --minutes {args.minutes:g}{' --postgres URL' if args.postgres else ''}`: "
        f"{database}, neo-go single node at {args.block_time:g} s blocks, one `nsl serve`, one `nsl worker`, "
        f"the enclave process, all on loopback with the load generator (Python, httpx).",
        f"Capacity (closed loop, {args.concurrency} in flight, {args.capacity_seconds:g} s): "
        f"**{soak.capacity:.1f} operations/s**. Soak: {args.minutes:g} min open loop at "
        f"{args.fraction:.0%} of it, {soak.target:.1f}/s targeted, {soak.achieved:.1f}/s started; "
        f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; on chain {args.chain_rate:g} requests/s "
        f"(dice rolls and oracle price requests alternately). Windows compared: "
        f"{span.warmup / 60:g}-{(span.warmup + span.window) / 60:g} min against the last "
        f"{span.window / 60:g} min; a sample every {args.sample_seconds:g} s ({len(soak.samples)} in all).",
        "",
        "| process | RSS first → last window (MB) | growth | RSS max (MB) | open fds first → last (max) "
        "| database connections first → last (max) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in soak.processes:
        rss = span.growth(name, "rss_kb", soak.samples)
        fds = span.growth(name, "fds", soak.samples)
        db = span.growth(name, "db", soak.samples)
        lines.append(
            f"| {name} | {rss.first_mean / 1024:.1f} → {rss.last_mean / 1024:.1f} | {rss.percent:+.1f} % "
            f"| {rss.overall_max / 1024:.1f} "
            f"| {fds.first_mean:.1f} → {fds.last_mean:.1f} ({fds.overall_max}) "
            f"| {db.first_mean:.1f} → {db.last_mean:.1f} ({db.overall_max}) |"
        )
        if rss.percent >= RSS_LIMIT_PERCENT:
            failed.append(f"{name}: RSS grew {rss.percent:.1f} % (limit {RSS_LIMIT_PERCENT:g} %)")
        for what, growth in (("open fds", fds), ("database connections", db)):
            if growth.grew:
                failed.append(
                    f"{name}: {what} grew (last window at least {growth.last_min}, "
                    f"first at most {growth.first_max})"
                )
    pg = span.pg_growth(soak.samples)
    if pg is not None:
        lines += [
            "",
            f"`pg_stat_activity` of the database (every client, this script's pool too): "
            f"{pg.first_mean:.1f} → {pg.last_mean:.1f} (max {pg.overall_max}).",
        ]
        if pg.grew:
            failed.append(
                f"pg_stat_activity grew (last window at least {pg.last_min}, first at most {pg.first_max})"
            )
    lines += ["", "| operation | done | errors |", "| --- | --- | --- |"]
    errors_by_op = Counter[str]()
    for (operation, _status), n in load.errors.items():
        errors_by_op[operation] += n
    for operation in sorted(set(load.done) | set(errors_by_op)):
        detail = ", ".join(f"{n} x {s}" for (o, s), n in sorted(load.errors.items()) if o == operation)
        lines.append(
            f"| {operation} | {load.done[operation]} "
            f"| {errors_by_op[operation]}{f' ({detail})' if detail else ''} |"
        )
    sent = sum(chain.sent.values())
    lines += [
        "",
        f"HTTP: {ops} operations in all (capacity phase included), {sum(load.errors.values())} errors. "
        f"On chain: {sent} requests sent ({', '.join(f'{k} {v}' for k, v in sorted(chain.sent.items()))}), "
        f"{soak.answered} answered, {sum(chain.failed.values())} sends failed"
        f"{' (' + ', '.join(f'{k}: {v}' for k, v in chain.failed.items()) + ')' if chain.failed else ''}. "
        f"Error lines in the processes' logs: {sum(logs.values())}"
        f"{' (' + '; '.join(f'{k}: {v}' for k, v in logs.most_common(8)) + ')' if logs else ''}.",
    ]
    if load.errors:
        failed.append(f"{sum(load.errors.values())} HTTP errors")
    if chain.failed:
        failed.append(f"{sum(chain.failed.values())} on-chain sends failed")
    if soak.answered < sent:
        failed.append(f"{sent - soak.answered} of {sent} on-chain requests unanswered")
    if logs:
        failed.append(f"{sum(logs.values())} error lines in the logs")
    if len(span.first) < 2 or len(span.last) < 2:
        failed.append("fewer than 2 samples in a compared window")
    changed = []
    for name, first in soak.fds_first.items():
        last = soak.fds_last.get(name, Counter[str]())
        diff = {k: last[k] - first[k] for k in first.keys() | last.keys() if last[k] != first[k]}
        if diff:
            changed.append(f"{name} " + ", ".join(f"{k} {v:+d}" for k, v in sorted(diff.items())))
    if changed:
        lines += ["", "Open descriptors, first sample → last: " + "; ".join(changed) + "."]
    loads = [s.loadavg for s in soak.samples]
    lines += [
        "",
        f"Machine load average (1 min) during the soak: mean {statistics.fmean(loads):.1f}, "
        f"max {max(loads):.1f} on {os.cpu_count()} cores.",
    ]
    lines += [
        "",
        "Verdict: " + ("every criterion met." if not failed else "FAILED: " + "; ".join(failed) + "."),
    ]
    return "\n".join(lines), failed
