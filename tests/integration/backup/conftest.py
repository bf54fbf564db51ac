"""Fixtures of the backup tests: a backup key, a moto S3 server, and generic table data helpers."""

from __future__ import annotations

import base64
import os
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, Table, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.moto_support import moto_endpoint

__all__ = ["moto_endpoint"]  # a fixture


@pytest.fixture
def backup_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def s3_endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto endpoint, emptied, with dummy credentials in the environment."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint


def _reflect(sync: Connection) -> MetaData:
    meta = MetaData()
    meta.reflect(sync)
    return meta


def _value(table: Table, column: Any, i: int, parents: dict[tuple[str, str], list[Any]]) -> Any:
    if column.foreign_keys:
        ref = next(iter(column.foreign_keys)).column
        values = parents.get((ref.table.name, ref.name), [])
        if values:
            return values[i % len(values)]
        return None
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    if kind is int:
        return i + 1
    if kind is bool:
        return i % 2 == 0
    if kind is float:
        return i + 0.5
    if kind is Decimal:
        return Decimal(i)
    if kind is bytes:
        return os.urandom(24)
    if kind is datetime:
        base = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i, microseconds=i)
        return base if getattr(column.type, "timezone", False) else base.replace(tzinfo=None)
    if kind is date:
        return date(2026, 1, 1) + timedelta(days=i)
    if kind is dict:
        return {"i": i, "note": "drill"}
    if kind is list:
        return [i]
    if kind is uuid.UUID:
        return uuid.uuid4()
    length = getattr(column.type, "length", None) or 48
    return f"{column.name[:4]}-{i}-{uuid.uuid4().hex}"[:length]


def _fill(sync: Connection, rows_per_table: int) -> dict[str, int]:
    meta = _reflect(sync)
    parents: dict[tuple[str, str], list[Any]] = {}
    written: dict[str, int] = {}
    for table in meta.sorted_tables:
        if table.name == "alembic_version":
            continue
        count = 0
        for i in range(rows_per_table):
            row = {c.name: _value(table, c, i, parents) for c in table.columns}
            try:
                with sync.begin_nested():
                    sync.execute(insert(table).values(**row))
            except (IntegrityError, DBAPIError, StatementError):
                break
            for name, value in row.items():
                parents.setdefault((table.name, name), []).append(value)
            count += 1
        written[table.name] = count
    return written


async def fill_every_table(engine: AsyncEngine, rows_per_table: int = 5) -> dict[str, int]:
    """Insert generated rows into every table of the database (parents first); rows per table."""
    async with engine.begin() as conn:
        return await conn.run_sync(lambda sync: _fill(sync, rows_per_table))


def _dump(sync: Connection) -> dict[str, list[tuple[Any, ...]]]:
    meta = _reflect(sync)
    dump: dict[str, list[tuple[Any, ...]]] = {}
    for table in meta.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        dump[table.name] = [tuple(row) for row in sync.execute(select(table).order_by(*order))]
    return dump


async def dump_tables(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered by primary key."""
    async with engine.connect() as conn:
        return await conn.run_sync(_dump)
