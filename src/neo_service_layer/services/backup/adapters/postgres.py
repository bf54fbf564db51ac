"""PostgreSQL dumps (``pg_dump -Fc``) and restores (``pg_restore``) as asyncio subprocesses.

The dump runs inside an exported snapshot (``pg_export_snapshot``) of a repeatable-read transaction,
and the row counts and schema revision of the manifest are read in that same transaction, so they
describe exactly the dumped data. Restores go into a new database; the switch-over renames
databases (see :meth:`PostgresRestored.switch_over` and ``docs/dr.md`` for its limits).

The backup role needs ``CREATEDB`` and must read every row (superuser, or ``BYPASSRLS`` and table
ownership); row security is turned off in the counting transaction so a policy cannot hide rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL, make_url

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.services.backup.adapters.platform_rows import PLATFORM_ROW_QUERIES
from neo_service_layer.services.backup.ports import DatabaseSnapshot, RestoredDatabase
from neo_service_layer.services.backup.rules.backup import BackupError, holds_user_data

PART_NAME = "database/postgres.dump"
MAINTENANCE_DB = "postgres"
_PIPE_READ = 1024 * 1024
_MAX_NAME = 63


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresTools:
    """How to run ``pg_dump`` / ``pg_restore`` against one server without putting secrets in argv."""

    def __init__(self, url: str, bin_dir: Path | None = None) -> None:
        self.url: URL = make_url(url)
        self.bin_dir = bin_dir

    def program(self, name: str) -> str:
        found = str(self.bin_dir / name) if self.bin_dir else shutil.which(name)
        if not found:
            raise BackupError(f"{name} is not on the PATH (set NSL_BACKUP_PG_BIN_DIR)")
        return found

    def env(self, database: str) -> dict[str, str]:
        env = dict(os.environ)
        values = {
            "PGHOST": self.url.host,
            "PGPORT": str(self.url.port) if self.url.port else None,
            "PGUSER": self.url.username,
            "PGPASSWORD": self.url.password if isinstance(self.url.password, str) else None,
            "PGDATABASE": database,
            "PGSSLMODE": _sslmode(self.url.query),
            "PGCONNECT_TIMEOUT": "10",
        }
        env.update({k: v for k, v in values.items() if v})
        return env

    def dsn(self, database: str) -> str:
        """An asyncpg DSN for ``database`` on the same server."""
        return self.url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)

    def sqlalchemy_url(self, database: str) -> str:
        return self.url.set(drivername="postgresql+asyncpg", database=database).render_as_string(
            hide_password=False
        )

    @property
    def database(self) -> str:
        if not self.url.database:
            raise BackupError("the PostgreSQL URL names no database")
        return self.url.database

    async def run(self, args: list[str], database: str, stdout_file: Path | None = None) -> None:
        """Run a client program; stream its stdout into ``stdout_file``; raise with its stderr tail."""
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout_file else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(database),
        )
        assert process.stderr is not None
        errors = asyncio.ensure_future(process.stderr.read())
        if stdout_file is not None:
            assert process.stdout is not None
            stdout_file.parent.mkdir(parents=True, exist_ok=True)
            with stdout_file.open("wb") as handle:
                while piece := await process.stdout.read(_PIPE_READ):
                    await asyncio.to_thread(handle.write, piece)
        code = await process.wait()
        stderr = (await errors).decode(errors="replace").strip()
        if code != 0:
            tail = stderr.splitlines()[-3:] if stderr else []
            raise BackupError(f"{Path(args[0]).name} failed (exit {code}): {' | '.join(tail)}")


def _sslmode(query: Mapping[str, object]) -> str | None:
    for name in ("sslmode", "ssl"):
        value = query.get(name)
        if isinstance(value, str):
            return value
    return None


async def read_facts(conn: asyncpg.Connection) -> tuple[dict[str, int], str | None]:
    """Row counts of every table outside the system schemas, and the Alembic revision."""
    rows = await conn.fetch(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY schemaname, tablename"
    )
    counts: dict[str, int] = {}
    for row in rows:
        schema, table = str(row["schemaname"]), str(row["tablename"])
        name = table if schema == "public" else f"{schema}.{table}"
        counts[name] = int(await conn.fetchval(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}"))  # noqa: S608
    revision = None
    if "alembic_version" in counts:
        value = await conn.fetchval("SELECT version_num FROM alembic_version")
        revision = None if value is None else str(value)
    return counts, revision


class PostgresRestored:
    """A database restored next to the live one; ``switch_over`` renames it into place."""

    def __init__(self, tools: PostgresTools, name: str, stamp: str) -> None:
        self.tools = tools
        self.name = name
        self.stamp = stamp
        self.switched = False

    @property
    def url(self) -> str:
        return self.tools.sqlalchemy_url(self.name)

    async def _facts(self) -> tuple[dict[str, int], str | None]:
        conn = await asyncpg.connect(self.tools.dsn(self.name))
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute("SET LOCAL row_security = off")
                return await read_facts(conn)
        finally:
            await conn.close()

    async def row_counts(self) -> dict[str, int]:
        return (await self._facts())[0]

    async def schema_revision(self) -> str | None:
        return (await self._facts())[1]

    async def switch_over(self) -> str:
        """Block and end connections to the live database, rename it aside, rename this one in.

        The previous database is kept as ``<name>_pre_restore_<time>`` with connections disallowed.
        """
        live = self.tools.database
        kept = f"{live}_pre_restore_{self.stamp}"[:_MAX_NAME]
        admin = await asyncpg.connect(self.tools.dsn(MAINTENANCE_DB))
        try:
            owner = await admin.fetchval(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", live
            )
            previous = "there was no previous database"
            if owner is not None:
                await admin.execute(f"ALTER DATABASE {_ident(live)} ALLOW_CONNECTIONS false")
                try:
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                        "WHERE datname = $1 AND pid <> pg_backend_pid()",
                        live,
                    )
                    await admin.execute(f"ALTER DATABASE {_ident(live)} RENAME TO {_ident(kept)}")
                except BaseException:
                    await admin.execute(f"ALTER DATABASE {_ident(live)} ALLOW_CONNECTIONS true")
                    raise
                await admin.execute(f"ALTER DATABASE {_ident(self.name)} OWNER TO {_ident(str(owner))}")
                previous = f"the previous database was renamed {kept} (connections disallowed)"
            await admin.execute(f"ALTER DATABASE {_ident(self.name)} RENAME TO {_ident(live)}")
            self.switched = True
            return previous
        finally:
            await admin.close()


class PostgresBackend:
    """Backups of the PostgreSQL database named by ``url``."""

    dialect = "postgresql"

    def __init__(self, url: str, clock: Clock, bin_dir: Path | None = None) -> None:
        self.tools = PostgresTools(url, bin_dir)
        self.clock = clock

    async def snapshot(self, directory: Path) -> DatabaseSnapshot:
        database = self.tools.database
        conn = await asyncpg.connect(self.tools.dsn(database))
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute("SET LOCAL row_security = off")
                snapshot_id = str(await conn.fetchval("SELECT pg_export_snapshot()"))
                counts, revision = await read_facts(conn)
                args = [
                    self.tools.program("pg_dump"),
                    "--format=custom",
                    "--compress=0",
                    "--no-password",
                    f"--snapshot={snapshot_id}",
                ]
                await self.tools.run(args, database, stdout_file=directory / PART_NAME)
        finally:
            await conn.close()
        return DatabaseSnapshot(PART_NAME, revision, counts)

    async def is_empty(self) -> bool:
        try:
            conn = await asyncpg.connect(self.tools.dsn(self.tools.database))
        except asyncpg.InvalidCatalogNameError:
            return True
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute("SET LOCAL row_security = off")
                counts, _ = await read_facts(conn)
                platform = {
                    table: int(await conn.fetchval(query))
                    for table, query in PLATFORM_ROW_QUERIES.items()
                    if table in counts and "chain_service_keys" in counts
                }
        finally:
            await conn.close()
        return not holds_user_data(counts, platform)

    @asynccontextmanager
    async def restore(self, dump: Path, *, scratch: bool) -> AsyncIterator[RestoredDatabase]:
        stamp = stamp_of(self.clock.now())
        if scratch:
            name = f"nsl_verify_{stamp}_{secrets.token_hex(4)}"
        else:
            name = f"{self.tools.database[: _MAX_NAME - 24]}_restore_{stamp}"
        admin = await asyncpg.connect(self.tools.dsn(MAINTENANCE_DB))
        try:
            await admin.execute(f"CREATE DATABASE {_ident(name)} TEMPLATE template0")
        finally:
            await admin.close()
        restored = PostgresRestored(self.tools, name, stamp)
        try:
            args = [
                self.tools.program("pg_restore"),
                "--no-password",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={name}",
                str(dump),
            ]
            await self.tools.run(args, name)
            yield restored
        finally:
            if not restored.switched:
                await _drop(self.tools, name)


async def _drop(tools: PostgresTools, name: str) -> None:
    admin = await asyncpg.connect(tools.dsn(MAINTENANCE_DB))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()


def stamp_of(now: datetime) -> str:
    """The time stamp used in names of restored and kept databases."""
    return now.strftime("%Y%m%d%H%M%S")
