"""Backup size and time for a database of 200 000 rows, on SQLite and on PostgreSQL (docs/dr.md).

Usage: ``.venv/bin/python -m bench.backup_size [--rows 200000] [--runs 3] [--only sqlite|postgres]
[--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]``.

Per engine: a fresh database (a temporary SQLite file; a PostgreSQL database this script creates and
drops) migrated to head and filled through the real schema by ``bench/backup_fill.py`` (the tables
that grow in use: tenants, audit entries through the audit log, on-chain requests with their randomness
payloads, keys with versions and sealed records, outbox transactions).

Then, ``--runs`` times: the real backup service (``build_backup_service`` with the CLI's restore
checks) creates an archive, verifies it (decrypt, restore into a scratch database, checks) and, after
the live database is destroyed (file removed; ``DROP DATABASE``), restores it. Next to each step, in the
same run, the plain reference: a ``sqlite3`` backup-API copy / ``pg_dump -Fc --compress=0`` of the same
database for the backup, and the same copy / ``CREATE DATABASE`` + ``pg_restore --single-transaction``
back for verify and restore. Prints markdown: sizes, times (median and range) and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.backup_fill import fill
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.backup.adapters.checks import restore_checks
from neo_service_layer.services.backup.adapters.factory import build_backup_service
from neo_service_layer.services.backup.adapters.postgres import PostgresTools
from neo_service_layer.services.backup.adapters.settings import BackupSettings


async def _timed(work: Awaitable[Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


def _plain_sqlite_copy(source: Path, destination: Path) -> None:
    """The reference: SQLite's online backup API, nothing else."""
    destination.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)


@dataclass
class Engine:
    """One database under test, and its plain reference copy/dump and restore."""

    name: str
    settings: Settings
    create: Callable[[], Awaitable[None]]
    reference_backup: Callable[[Path], Awaitable[None]]
    reference_restore: Callable[[Path], Awaitable[None]]
    destroy: Callable[[], Awaitable[None]]
    cleanup: Callable[[], Awaitable[None]]


def _sqlite_engine(work: Path) -> Engine:
    settings = Settings(data_dir=work / "data", env="test")
    live = work / "data" / "nsl.db"

    async def reference_backup(into: Path) -> None:
        await asyncio.to_thread(_plain_sqlite_copy, live, into)

    async def reference_restore(dump: Path) -> None:
        await asyncio.to_thread(_plain_sqlite_copy, dump, work / "reference-restored.db")

    async def destroy() -> None:
        for suffix in ("", "-wal", "-shm"):
            live.with_name(live.name + suffix).unlink(missing_ok=True)

    async def nothing() -> None:
        return None

    return Engine("SQLite", settings, nothing, reference_backup, reference_restore, destroy, nothing)


def _postgres_engine(work: Path, admin_url: str) -> Engine:
    base = admin_url.rpartition("/")[0]
    name = f"nsl_bench_{secrets.token_hex(4)}"
    settings = Settings(data_dir=work / "data", env="test", database_url=f"{base}/{name}")
    tools = PostgresTools(f"{base}/{name}")
    created: set[str] = {name}

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(f"{base}/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create() -> None:
        await admin(f'CREATE DATABASE "{name}"')

    async def reference_backup(into: Path) -> None:
        args = [
            tools.program("pg_dump"),
            "--format=custom",
            "--compress=0",
            "--no-password",
            f"--file={into}",
        ]
        await tools.run(args, name)

    async def reference_restore(dump: Path) -> None:
        target = f"{name}_reference"
        created.add(target)
        await admin(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        await admin(f'CREATE DATABASE "{target}" TEMPLATE template0')
        args = [tools.program("pg_restore"), "--no-password", "--exit-on-error", "--single-transaction"]
        await tools.run([*args, f"--dbname={target}", str(dump)], target)

    async def destroy() -> None:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def cleanup() -> None:
        conn = await asyncpg.connect(f"{base}/postgres")
        try:
            names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{name}%")
            for row in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()

    return Engine("PostgreSQL", settings, create, reference_backup, reference_restore, destroy, cleanup)


@dataclass
class Measured:
    """One engine's runs."""

    rows: int = 0
    dump: list[int] = field(default_factory=list)
    archive: list[int] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)

    def add(self, what: str, seconds: float) -> None:
        self.times.setdefault(what, []).append(seconds)


async def measure(engine: Engine, rows: int, runs: int, work: Path) -> Measured:
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    await engine.create()
    db = create_engine(engine.settings)
    try:
        await upgrade_to_head(db)
        _, fill_seconds = await _timed(fill(db, rows))
    finally:
        await db.dispose()
    print(f"<!-- {engine.name}: filled {rows} rows in {fill_seconds:.1f} s -->", flush=True)
    backups = BackupSettings(key=base64.b64encode(os.urandom(32)).decode(), dir=work / "backups")
    service = build_backup_service(engine.settings, backups, checks=restore_checks(engine.settings))
    measured = Measured()
    for _ in range(runs):
        reference = work / "reference.dump"
        _, seconds = await _timed(engine.reference_backup(reference))
        measured.add("reference backup", seconds)
        created = await service.create()
        measured.add("backup", created.seconds)
        measured.dump.append(created.manifest.parts[0].size)
        measured.archive.append(created.size)
        measured.rows = sum(created.manifest.row_counts.values())
        report = await service.verify(created.backup_id)
        if not report.ok:
            raise SystemExit(f"verify failed: {report.checks}")
        measured.add("verify", report.seconds)
        _, seconds = await _timed(engine.reference_restore(reference))
        measured.add("reference restore", seconds)
        await engine.destroy()
        restored = await service.restore(created.backup_id)
        if restored.manifest.row_counts != created.manifest.row_counts:
            raise SystemExit("the restored database does not hold the backed-up rows")
        measured.add("restore", restored.seconds)
    return measured


def _mb(values: list[int]) -> str:
    return f"{statistics.median(values) / 1e6:.1f} MB"


def _span(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def _ratio(measured: Measured, what: str, reference: str) -> str:
    return f"{statistics.median(measured.times[what]) / statistics.median(measured.times[reference]):.1f}x"


def report(results: dict[str, Measured], rows: int, runs: int) -> str:
    names = list(results)
    lines = [
        f"## Backup size and time, {rows} rows — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.node() or 'vm'}, {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; `python -m bench.backup_size`, {runs} runs each)",
        "",
        "| | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]

    def row(label: str, cell: Callable[[Measured], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")

    row("rows in the manifest", lambda m: f"{m.rows}")
    row("dump (SQLite file copy / `pg_dump -Fc --compress=0`)", lambda m: _mb(m.dump))
    row("archive (gzip + AES-256-GCM)", lambda m: _mb(m.archive))
    row("archive / dump", lambda m: f"{statistics.median(m.archive) / statistics.median(m.dump):.2f}")
    row("reference: backup-API copy / `pg_dump`", lambda m: _span(m.times["reference backup"]))
    row("`backup create`", lambda m: _span(m.times["backup"]))
    row("backup / reference", lambda m: _ratio(m, "backup", "reference backup"))
    row("reference: copy back / `pg_restore` into a new DB", lambda m: _span(m.times["reference restore"]))
    row("`backup verify` (scratch restore + checks)", lambda m: _span(m.times["verify"]))
    row("verify / reference restore", lambda m: _ratio(m, "verify", "reference restore"))
    row("`backup restore` (new DB, checks, switch-over)", lambda m: _span(m.times["restore"]))
    row("restore / reference restore", lambda m: _ratio(m, "restore", "reference restore"))
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    results: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="nsl-bench-backup-") as tmp:
        work = Path(tmp)
        engines = []
        if args.only in (None, "sqlite"):
            engines.append(_sqlite_engine(work / "sqlite"))
        if args.only in (None, "postgres"):
            engines.append(_postgres_engine(work / "postgres", args.postgres_url))
        for engine in engines:
            try:
                results[engine.name] = await measure(engine, args.rows, args.runs, work / engine.name)
            finally:
                await engine.cleanup()
    print(report(results, args.rows, args.runs))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("NSL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a server where this script may create and drop its own database",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
