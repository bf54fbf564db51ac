"""A database server that is down: its errors are told from real failures, the worker waits it out with
one warning per interval per job (not a traceback per poll) and the API answers 503, not 500 (the chaos
run on PostgreSQL found both: ``tests/e2e/chain/test_chaos_postgres.py``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.unreachable import database_unreachable
from neo_service_layer.kernel.http.errors import install_error_handlers
from neo_service_layer.kernel.worker.jobs import PeriodicJob
from neo_service_layer.kernel.worker.runner import _loop
from tests.http.serverproc import free_port


async def refused_error(tmp_path: Path) -> BaseException:
    """What a query raises when nothing listens where the PostgreSQL server should be."""
    settings = Settings(data_dir=str(tmp_path), db_connect_timeout=2)
    engine = create_engine(settings, f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("a server answered on a free port")


async def sqlite_error(tmp_path: Path) -> BaseException:
    engine = create_engine(Settings(data_dir=str(tmp_path)), f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the query did not fail")


async def test_a_refused_connection_is_unreachable_and_a_bad_query_is_not(tmp_path: Path) -> None:
    assert database_unreachable(await refused_error(tmp_path))
    assert not database_unreachable(await sqlite_error(tmp_path))
    assert not database_unreachable(RuntimeError("a bug"))


async def test_the_worker_waits_out_a_database_that_is_down_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    down = await refused_error(tmp_path)
    errors: list[BaseException] = [down, down, down, down, RuntimeError("a bug")]
    stop = asyncio.Event()

    async def job() -> None:
        if not errors:
            stop.set()
            return
        raise errors.pop(0)

    await asyncio.wait_for(_loop(PeriodicJob("randomness", timedelta(seconds=0.001), job), stop), 10)
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [m for m in messages if "database unreachable" in m[1]] == [
        ("WARNING", next(m[1] for m in messages if "database unreachable" in m[1]))
    ]  # four polls while it was down: one warning
    assert [level for level, m in messages if "job failed" in m] == ["ERROR"]  # the bug still logs


async def test_the_api_answers_503_with_retry_after_while_the_database_is_down(tmp_path: Path) -> None:
    down, bad = await refused_error(tmp_path), await sqlite_error(tmp_path)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/down")
    async def _down() -> None:
        raise down

    @app.get("/bad")
    async def _bad() -> None:
        raise bad

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/down")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "2"
        assert answer.json()["type"].endswith("/database-unavailable")
        assert (await client.get("/bad")).status_code == 500  # a real failure stays a server error
