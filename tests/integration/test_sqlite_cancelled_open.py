"""A task cancelled while the engine opens a SQLite connection leaves no connection open.

aiosqlite alone drops such a connection unclosed (its issue 259): the file stays open until the
garbage collector finalises it, which the suite saw as an intermittent ``ResourceWarning: unclosed
database`` raised in some later, unrelated test.
"""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine


async def _until_closed(database: Path) -> None:
    """A closed connection's thread ends a moment after its close: wait for that, up to 10 s."""
    for _ in range(500):
        if not _open_files(database):
            return
        await asyncio.sleep(0.02)


async def _select_one(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT 1"))).scalar_one())


def _open_files(prefix: Path) -> list[str]:
    """This process's open files of the database (the file, its -wal and -shm)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed between the listing and the read
            continue
        if target.startswith(str(prefix)):
            found.append(target)
    return found


async def test_a_task_cancelled_during_the_open_leaves_no_connection_open(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    database = tmp_path / "cancelled.db"
    settings = make_settings(database_url=f"sqlite:///{database}")
    cancelled = 0
    for steps in range(1, 13):  # the open spans several turns of the loop: cancel at each of them
        engine = create_engine(settings)
        task = asyncio.create_task(_select_one(engine))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cancelled += task.cancelled()
        assert await _select_one(engine) == 1  # the engine still opens and answers after it
        await engine.dispose()
    assert cancelled >= 6  # most cancellations landed before the query ended

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await _until_closed(database)
        assert _open_files(database) == []  # closed, not left for the garbage collector
        gc.collect()
    assert [str(w.message) for w in caught if "unclosed" in str(w.message)] == []


async def test_an_api_stopped_just_after_it_started_leaves_no_connection_open(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # its background reads (the key-rotation gauge's first count) are still opening their connection
    # when a quick stop cancels them: before the fix, 34 of 40 such lifespans left one open
    settings = make_settings()
    database = settings.data_dir / "nsl.db"
    for steps in range(8):
        app = create_app(settings, migrate=steps == 0)
        async with app.router.lifespan_context(app):
            for _ in range(steps):
                await asyncio.sleep(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await _until_closed(database)
        assert _open_files(database) == []
        gc.collect()
    assert [str(w.message) for w in caught if "unclosed" in str(w.message)] == []
