"""Revision ``0006_request_payloads`` on a real SQLite file and a real PostgreSQL database: the payloads
stored in ``chain_requests`` (randomness, oracle, native Oracle; every status, answered or not) move to
the services' tables without loss, and a downgrade followed by an upgrade gives back the same bytes."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.request_store import NO_PAYLOAD, SqlRequestStore
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import _config, current_revision, upgrade_to_head
from neo_service_layer.services.native_oracle.adapters.payloads import NativeOraclePayloads
from neo_service_layer.services.native_oracle.rules import NativeParams, NativeResult, NeoResponseCode
from neo_service_layer.services.oracle.adapters.payloads import OraclePayloads
from neo_service_layer.services.oracle.rules import OracleParams, OracleResult
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.rules import RandomnessParams, RandomnessResult

BEFORE, REVISION = "0005_oracle", "0006_request_payloads"
CONTRACTS = {"randomness": "0x" + "11" * 20, "oracle": "0x" + "22" * 20, "native-oracle": "0x" + "33" * 20}
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

old_requests = sa.table(
    "chain_requests",
    *(sa.column(c, sa.String) for c in ("service", "contract", "consumer", "request_tx", "status")),
    *(sa.column(c, sa.String) for c in ("lease_owner", "tx_hash", "fulfilled_tx")),
    *(sa.column(c, sa.Text) for c in ("failure_reason", "callback_failure")),
    *(
        sa.column(c, sa.BigInteger)
        for c in ("request_id", "request_block", "fulfilled_block", "delivered_block")
    ),
    *(sa.column(c, sa.Integer) for c in ("num_words", "attempts")),
    *(sa.column(c, sa.LargeBinary) for c in ("seed", "output", "proof")),
    *(sa.column(c, sa.DateTime(timezone=True)) for c in ("request_time", "seen_at", "lease_until")),
    *(sa.column(c, sa.DateTime(timezone=True)) for c in ("fulfilled_time", "updated_at")),
    sa.column("with_delivery", sa.Boolean),
)
PAYLOAD_COLUMNS = ("num_words", "seed", "output", "proof")


def oracle_seed(url: str, filter_: str) -> bytes:
    """The old ``seed`` of an oracle request: ``u32le(len(url)) || url || u32le(len(filter)) || filter``."""
    raw_url, raw_filter = url.encode(), filter_.encode()
    return struct.pack("<I", len(raw_url)) + raw_url + struct.pack("<I", len(raw_filter)) + raw_filter


def pipeline_facts(service: str, request_id: int, status: RequestStatus) -> dict[str, Any]:
    """Every pipeline column of an old row, varied by status so that a lost or swapped value shows."""
    moved = status is not RequestStatus.SEEN
    fulfilled = status in (RequestStatus.FULFILLED, RequestStatus.DELIVERED, RequestStatus.CALLBACK_FAILED)
    return {
        "service": service,
        "contract": CONTRACTS[service],
        "request_id": request_id,
        "consumer": "0x" + f"{request_id:040x}",
        "request_block": 100 + request_id,
        "request_tx": f"0x{request_id:064x}",
        "request_time": AT + timedelta(seconds=request_id),
        "seen_at": AT + timedelta(seconds=request_id, milliseconds=250),
        "status": status.value,
        "attempts": request_id % 3,
        "lease_owner": "worker-1" if status is RequestStatus.SEEN and request_id % 2 else None,
        "lease_until": AT + timedelta(minutes=1) if status is RequestStatus.SEEN and request_id % 2 else None,
        "tx_hash": f"0x{request_id + 5000:064x}" if moved else None,
        "with_delivery": bool(request_id % 2) if moved else None,
        "fulfilled_block": 101 + request_id if fulfilled else None,
        "fulfilled_tx": f"0x{request_id + 9000:064x}" if fulfilled else None,
        "fulfilled_time": AT + timedelta(seconds=request_id + 1) if fulfilled else None,
        "delivered_block": 102 + request_id if status is RequestStatus.DELIVERED else None,
        "failure_reason": "ASSERT is executed" if status is RequestStatus.FAILED else None,
        "callback_failure": "callback faults: ABORT" if status is RequestStatus.CALLBACK_FAILED else None,
        "updated_at": AT + timedelta(seconds=request_id + 2),
    }


def old_rows() -> list[dict[str, Any]]:
    """Rows of the three services in every status, each once answered and once not."""
    rows: list[dict[str, Any]] = []
    request_id = 0
    for status in RequestStatus:
        for answered in (True, False):
            request_id += 1
            i = request_id
            rows.append(
                pipeline_facts("randomness", i, status)
                | {
                    "num_words": i % 100 + 1,
                    "seed": bytes([i]) * 32,
                    "output": bytes([i + 1]) * 32 if answered else None,
                    "proof": bytes([i + 2]) * 96 if answered else None,
                }
            )
            rows.append(
                pipeline_facts("oracle", i, status)
                | {
                    "num_words": 0,
                    "seed": oracle_seed(f"https://api.example/ß/{i}", "$.price" if i % 2 else ""),
                    "output": (b'{"p": %d}' % i if i % 3 else b"") if answered else None,
                    "proof": struct.pack("<IQ", (0x14 if i % 3 == 0 else 0), 1_767_225_600_000 + i)
                    if answered
                    else None,
                }
            )
            rows.append(
                pipeline_facts("native-oracle", i, status)
                | {
                    "num_words": 0,
                    "seed": oracle_seed(f"https://neo.example/{i}", "$.a[0]" if i % 2 else ""),
                    "output": (b"[%d]" % i if i % 3 else b"") if answered else None,
                    "proof": bytes([0x14 if i % 3 == 0 else 0]) if answered else None,
                }
            )
    return rows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    if request.param == "sqlite":
        return make_settings()
    return make_settings(database_url=request.getfixturevalue("postgres_url"), db_pool_size=3)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def migrate(engine: AsyncEngine, revision: str, *, down: bool = False) -> None:
    step = command.downgrade if down else command.upgrade
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: step(_config(sync), revision))


async def stored(engine: AsyncEngine, table: str) -> list[dict[str, Any]]:
    """Every row of ``table``, as dicts, in key order."""
    async with engine.connect() as conn:
        reflected = await conn.run_sync(lambda sync: sa.Table(table, sa.MetaData(), autoload_with=sync))
        key = [c for c in ("service", "contract", "request_id") if c in reflected.c]
        rows = (await conn.execute(sa.select(reflected).order_by(*(reflected.c[c] for c in key)))).all()
    return [dict(row._mapping) for row in rows]


def as_bytes(value: Any) -> Any:
    return bytes(value) if isinstance(value, bytes | memoryview) else value


def expected_payloads(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """What each service's table must hold after the upgrade."""
    wanted: dict[str, list[dict[str, Any]]] = {"randomness": [], "oracle": [], "native-oracle": []}
    for row in rows:
        key = {"contract": row["contract"], "request_id": row["request_id"]}
        service = row["service"]
        if service == "randomness":
            wanted[service].append(key | {c: row[c] for c in PAYLOAD_COLUMNS})
            continue
        raw = row["seed"]
        (n,) = struct.unpack_from("<I", raw)
        url, filter_ = raw[4 : 4 + n].decode(), raw[8 + n :].decode()
        if service == "oracle":
            code, timestamp = struct.unpack("<IQ", row["proof"]) if row["proof"] else (None, None)
            answer = {"result_code": code, "result": row["output"], "timestamp_ms": timestamp}
        else:
            answer = {"code": row["proof"][0] if row["proof"] else None, "result": row["output"]}
        wanted[service].append(key | {"url": url, "filter": filter_} | answer)
    return wanted


async def assert_moved(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    pipeline = await stored(engine, "chain_requests")
    assert [set(r) & set(PAYLOAD_COLUMNS) for r in pipeline] == [set()] * len(rows)  # the columns are gone
    facts = [{k: v for k, v in r.items() if k not in PAYLOAD_COLUMNS} for r in rows]
    assert sorted(pipeline, key=_key) == sorted(_normalised(engine, facts), key=_key)
    wanted = expected_payloads(rows)
    for service, table in (
        ("randomness", "randomness_requests"),
        ("oracle", "oracle_requests"),
        ("native-oracle", "native_oracle_requests"),
    ):
        found = [{k: as_bytes(v) for k, v in r.items()} for r in await stored(engine, table)]
        assert found == sorted(wanted[service], key=lambda r: (r["contract"], r["request_id"]))


def _key(row: dict[str, Any]) -> tuple[str, str, int]:
    return row["service"], row["contract"], row["request_id"]


def _normalised(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timestamps as the database gives them back (SQLite drops the zone)."""
    if engine.dialect.name == "postgresql":
        return rows
    return [{k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in r.items()} for r in rows]


async def test_payloads_move_to_the_services_tables_and_back_without_loss(engine: AsyncEngine) -> None:
    await migrate(engine, BEFORE)
    rows = old_rows()
    assert {r["status"] for r in rows} == {s.value for s in RequestStatus}
    async with engine.begin() as conn:
        await conn.execute(sa.insert(old_requests), rows)
    before = await stored(engine, "chain_requests")

    await migrate(engine, REVISION)
    await assert_moved(engine, rows)

    await migrate(engine, BEFORE, down=True)
    assert await current_revision(engine) == BEFORE
    restored = [{k: as_bytes(v) for k, v in r.items()} for r in await stored(engine, "chain_requests")]
    assert restored == [{k: as_bytes(v) for k, v in r.items()} for r in before]  # byte for byte

    await migrate(engine, REVISION)
    await assert_moved(engine, rows)


async def test_the_stores_read_the_moved_payloads(engine: AsyncEngine) -> None:
    await migrate(engine, BEFORE)
    rows = old_rows()
    async with engine.begin() as conn:
        await conn.execute(sa.insert(old_requests), rows)
    await upgrade_to_head(engine)
    randomness = SqlRequestStore(engine, RandomnessPayloads())
    oracle = SqlRequestStore(engine, OraclePayloads())
    native = SqlRequestStore(engine, NativeOraclePayloads())
    answered = rows[0], rows[1], rows[2]  # request 1 (seen, answered) of each service
    unanswered = rows[3], rows[4], rows[5]  # request 2 (seen, never answered)

    r = await randomness.get("randomness", CONTRACTS["randomness"], 1)
    assert r is not None
    assert (r.asked, r.answer) == (
        RandomnessParams(answered[0]["num_words"], answered[0]["seed"]),
        RandomnessResult(answered[0]["output"], answered[0]["proof"]),
    )
    o = await oracle.get("oracle", CONTRACTS["oracle"], 1)
    assert o is not None
    assert (o.asked, o.answer) == (
        OracleParams("https://api.example/ß/1", "$.price"),
        OracleResult(0, b'{"p": 1}', 1_767_225_600_001),
    )
    n = await native.get("native-oracle", CONTRACTS["native-oracle"], 1)
    assert n is not None
    assert (n.asked, n.answer) == (
        NativeParams("https://neo.example/1", "$.a[0]"),
        NativeResult(NeoResponseCode.SUCCESS, b"[1]"),
    )
    for store, row in zip((randomness, oracle, native), unanswered, strict=True):
        found = await store.get(row["service"], row["contract"], 2)
        assert found is not None
        assert (found.status, found.answer) == (RequestStatus.SEEN, None)


async def test_a_damaged_oracle_row_gets_no_payload_and_is_failed_when_claimed(engine: AsyncEngine) -> None:
    await migrate(engine, BEFORE)
    good, damaged = (
        pipeline_facts("oracle", i, RequestStatus.SEEN) | {"num_words": 0, "output": None, "proof": None}
        for i in (2, 4)
    )
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(old_requests),
            [good | {"seed": oracle_seed("https://a.example", "")}, damaged | {"seed": b"\x05\x00"}],
        )
    await migrate(engine, REVISION)
    await upgrade_to_head(engine)  # today's store reads the head schema (``chain_faults``, 0008)
    oracle = SqlRequestStore(engine, OraclePayloads())
    claimed = await oracle.claim("oracle", CONTRACTS["oracle"], "w", AT, AT + timedelta(seconds=30), 10)
    assert [r.request_id for r in claimed] == [2]
    async with engine.connect() as conn:
        status, reason = (
            await conn.execute(
                sa.text("SELECT status, failure_reason FROM chain_requests WHERE request_id = 4")
            )
        ).one()
    assert (status, reason) == ("failed", NO_PAYLOAD)


async def test_rows_of_a_service_without_a_payload_table_stop_the_upgrade(engine: AsyncEngine) -> None:
    await migrate(engine, BEFORE)
    stranger = pipeline_facts("oracle", 1, RequestStatus.SEEN) | {"service": "lottery"}
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(old_requests),
            [stranger | {"num_words": 1, "seed": b"s", "output": None, "proof": None}],
        )
    with pytest.raises(RuntimeError, match=r"rows of \['lottery'\]"):
        await migrate(engine, REVISION)
    assert await current_revision(engine) == BEFORE
    assert len(await stored(engine, "chain_requests")) == 1
