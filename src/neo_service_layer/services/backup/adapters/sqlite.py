"""SQLite snapshots through the online backup API (never a file copy of a live database), and restores.

Restore writes the database next to the live file, checks it, then switches with an atomic rename.
The previous file is first copied (backup API again) to ``<name>.pre-restore-<time>``. The switch
is only safe while no process has the database open: stop the API and the workers first.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import datetime
from pathlib import Path

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.backup.adapters.platform_rows import PLATFORM_ROW_QUERIES
from neo_service_layer.services.backup.ports import DatabaseSnapshot, RestoredDatabase
from neo_service_layer.services.backup.rules.backup import BackupError, holds_user_data

PART_NAME = "database/nsl.sqlite3"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_facts(path: Path) -> tuple[dict[str, int], str | None]:
    """Row count of every table, and the Alembic revision (``None`` before any migration)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = [
            str(row[0])
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        counts = {t: int(conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0]) for t in tables}  # noqa: S608
        revision = None
        if "alembic_version" in counts:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else str(row[0])
        return counts, revision


def _platform_rows(path: Path, counts: dict[str, int]) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {
            table: int(conn.execute(query).fetchone()[0])
            for table, query in PLATFORM_ROW_QUERIES.items()
            if table in counts and "chain_service_keys" in counts
        }


def online_copy(source: Path, destination: Path) -> None:
    """Copy a (possibly live) database with SQLite's backup API; the copy uses a rollback journal."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(destination)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the SQLite copy failed its integrity check: {check}")


class SqliteRestored:
    """A restored SQLite file, switched over by renaming it onto the live path."""

    def __init__(self, path: Path, live: Path, stamp: str) -> None:
        self.path = path
        self.live = live
        self.stamp = stamp
        self.switched = False

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"

    async def row_counts(self) -> dict[str, int]:
        return (await asyncio.to_thread(read_facts, self.path))[0]

    async def schema_revision(self) -> str | None:
        return (await asyncio.to_thread(read_facts, self.path))[1]

    async def switch_over(self) -> str:
        previous = "there was no previous database"
        if self.live.exists():
            kept = self.live.with_name(f"{self.live.name}.pre-restore-{self.stamp}")
            await asyncio.to_thread(online_copy, self.live, kept)
            previous = f"the previous database was copied to {kept}"
        os.replace(self.path, self.live)
        for suffix in ("-wal", "-shm", "-journal"):
            self.live.with_name(self.live.name + suffix).unlink(missing_ok=True)
        _fsync_dir(self.live.parent)
        self.switched = True
        return previous


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SqliteBackend:
    """Backups of the embedded SQLite database at ``path``."""

    dialect = "sqlite"

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock

    async def snapshot(self, directory: Path) -> DatabaseSnapshot:
        if not self.path.exists():
            raise BackupError(f"no SQLite database at {self.path}")
        destination = directory / PART_NAME
        await asyncio.to_thread(online_copy, self.path, destination)
        counts, revision = await asyncio.to_thread(read_facts, destination)
        return DatabaseSnapshot(PART_NAME, revision, counts)

    async def is_empty(self) -> bool:
        if not self.path.exists():
            return True
        counts, _ = await asyncio.to_thread(read_facts, self.path)
        platform = await asyncio.to_thread(_platform_rows, self.path, counts)
        return not holds_user_data(counts, platform)

    @asynccontextmanager
    async def restore(self, dump: Path, *, scratch: bool) -> AsyncIterator[RestoredDatabase]:
        stamp = _stamp(self.clock.now())
        if scratch:
            candidate = dump.with_name("scratch.sqlite3")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            candidate = self.path.with_name(f"{self.path.name}.restore-{stamp}")
        await asyncio.to_thread(online_copy, dump, candidate)
        restored = SqliteRestored(candidate, self.path, stamp)
        try:
            yield restored
        finally:
            if not restored.switched:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    candidate.with_name(candidate.name + suffix).unlink(missing_ok=True)


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ")
