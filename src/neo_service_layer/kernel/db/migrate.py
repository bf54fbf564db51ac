"""Running Alembic migrations from code (``nsl migrate``, automatic migration in development).

One revision history spans the kernel's tables (``migrations/versions`` here) and each service's own
(``services/<name>/migrations``, named in its descriptor). The service folders are found on disk rather
than through the registry: every entry point that needs the schema head (the API's ``/system``, backups,
``nsl migrate``) then sees the same history, and the kernel imports no service. A test checks that the
folders found are exactly those the registered descriptors name.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


def version_locations() -> list[Path]:
    """The kernel's revisions first, then every service's ``migrations`` folder, in name order."""
    services = sorted(path for path in SERVICES_DIR.glob("*/migrations") if path.is_dir())
    return [MIGRATIONS_DIR / "versions", *services]


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


async def upgrade_to_head(engine: AsyncEngine) -> str:
    """Apply every pending migration; return the revision the database is now at.

    A database already at the head is left alone without loading Alembic's environment (one read of
    ``alembic_version``): every process start checks, and most find nothing to do.
    """
    if await stored_revision(engine) == head_revision():
        return head_revision()
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), "head"))
    return head_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def stored_revision(engine: AsyncEngine) -> str | None:
    """Cheap read of the revision on the request path; ``current_revision`` does more bookkeeping."""
    async with engine.connect() as conn:
        try:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except DBAPIError:
            return None
