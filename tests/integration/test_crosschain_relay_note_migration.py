"""Revision ``0025_crosschain_relay_note`` on a real SQLite file and a real PostgreSQL database: the
relayer's notes stored in ``crosschain_messages.reason`` move to ``relay_note`` (every note of a seen,
delivering or executed message; a failed message's only when it is one of the relayer's receipt texts),
the outcome's reasons stay, nothing else changes, and a downgrade gives back the same rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import _config, current_revision, upgrade_to_head
from neo_service_layer.services.crosschain.adapters.view import SqlMessageView
from neo_service_layer.services.crosschain.rules.why import Around, why

BEFORE, REVISION = "0024_crosschain_messages_seen", "0025_crosschain_relay_note"
N3, NEOX = 2**63 + 42, 31337
AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
REVERT = "receiver threw an exception"
REFUSED_RECEIPT = "receipt refused: no MessageExecuted"

#: (nonce, status, receipt status, reason as the one column held it, (reason, relay_note) after)
ROWS: tuple[tuple[int, str, str, str | None, tuple[str | None, str | None]], ...] = (
    (1, "seen", "none", None, (None, None)),
    (2, "seen", "none", "waiting: DeliveringPaused", (None, "waiting: DeliveringPaused")),
    (3, "seen", "none", "carried by someone else (AlreadyDelivered); reading its outcome",
     (None, "carried by someone else (AlreadyDelivered); reading its outcome")),
    (4, "delivering", "none", "waiting: UnknownRoute", (None, "waiting: UnknownRoute")),
    (5, "executed", "due", REFUSED_RECEIPT, (None, REFUSED_RECEIPT)),
    (6, "executed", "stored", None, (None, None)),
    (7, "failed", "due", REVERT, (REVERT, None)),
    # a revert reason the relayer's receipt note had replaced: the note moves, the revert is gone
    (8, "failed", "due", "waiting: chain_unavailable", (None, "waiting: chain_unavailable")),
    (9, "failed", "due", "carried by someone else (StaleReceipt); reading its outcome",
     (None, "carried by someone else (StaleReceipt); reading its outcome")),
    (10, "failed", "due", REFUSED_RECEIPT, (None, REFUSED_RECEIPT)),
    # the relayer's texts compared exactly: a receiver's reason that only looks alike stays
    (11, "failed", "due", "Waiting: for the oracle", ("Waiting: for the oracle", None)),
    (12, "failed", "stored", "no funds; waiting: later", ("no funds; waiting: later", None)),
    (13, "refused", "none", "refused by the gateway: UnknownSourceContract",
     ("refused by the gateway: UnknownSourceContract", None)),
    (14, "refused", "none", "waiting: looks like a note", ("waiting: looks like a note", None)),
)  # fmt: skip


def old_row(nonce: int, status: str, receipt: str, reason: str | None) -> dict[str, Any]:
    ran = status in ("executed", "failed")
    return {
        "src_chain": str(N3),
        "nonce": nonce,
        "dest_chain": str(NEOX),
        "sender": f"{nonce:040x}",
        "receiver": "02" * 20,
        "payload": bytes([nonce]) * 3,
        "gas_limit": 200_000 + nonce,
        "fee": str(10**6 + nonce),
        "src_block": 10 + nonce,
        "src_tx": f"0x{nonce:064x}",
        "status": status,
        "lease_owner": "w1" if nonce % 3 == 0 else None,
        "lease_until": AT + timedelta(seconds=nonce) if nonce % 2 else None,
        "attempts": 1 if ran else 0,
        "deliver_tx": f"0x{nonce + 100:064x}" if status != "seen" else None,
        "dest_block": 20 + nonce if ran else None,
        "dest_tx": f"0x{nonce + 200:064x}" if ran else None,
        "result": b"echo" if status == "executed" else None,
        "reason": reason,
        "receipt_status": receipt,
        "receipt_attempt": 1 if receipt == "stored" else 0,
        "receipt_tx": None,
        "receipt_block": 30 + nonce if receipt == "stored" else None,
        "created_at": AT + timedelta(seconds=nonce),
        "updated_at": AT + timedelta(seconds=nonce, milliseconds=500),
    }


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


async def stored(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every message row as the database holds it, by nonce (bytes as bytes, times in UTC)."""
    async with engine.connect() as conn:
        table = await conn.run_sync(
            lambda sync: sa.Table("crosschain_messages", sa.MetaData(), autoload_with=sync)
        )
        rows = (await conn.execute(sa.select(table).order_by(table.c.nonce))).all()
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, datetime) and value.tzinfo is None:  # SQLite drops the zone
        return value.replace(tzinfo=UTC)
    return value


async def indexes(engine: AsyncEngine) -> list[tuple[str, tuple[str, ...]]]:
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda sync: sa.inspect(sync).get_indexes("crosschain_messages"))
    return sorted((str(i["name"]), tuple(str(c) for c in i["column_names"])) for i in found)


async def seeded(engine: AsyncEngine) -> list[dict[str, Any]]:
    await migrate(engine, BEFORE)
    async with engine.begin() as conn:  # the table as revision 0024 made it, with its column types
        table = await conn.run_sync(
            lambda sync: sa.Table("crosschain_messages", sa.MetaData(), autoload_with=sync)
        )
        await conn.execute(sa.insert(table), [old_row(n, s, r, reason) for n, s, r, reason, _ in ROWS])
    return await stored(engine)


def assert_split(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """The reasons split as ``ROWS`` says; every other column as it was."""
    assert [(r["reason"], r["relay_note"]) for r in after] == [split for *_, split in ROWS]
    others = [{k: v for k, v in r.items() if k not in ("reason", "relay_note")} for r in after]
    assert others == [{k: v for k, v in r.items() if k != "reason"} for r in before]


async def test_the_relayers_notes_move_out_of_the_reason_and_back(engine: AsyncEngine) -> None:
    before = await seeded(engine)
    assert "relay_note" not in before[0]
    indexed = await indexes(engine)
    assert len(indexed) == 4

    await migrate(engine, REVISION)
    assert_split(before, await stored(engine))

    await migrate(engine, BEFORE, down=True)
    assert await current_revision(engine) == BEFORE
    assert await stored(engine) == before  # the one column, as it was
    assert await indexes(engine) == indexed  # SQLite rebuilt the table with its indexes

    await migrate(engine, REVISION)
    assert_split(before, await stored(engine))


async def test_the_view_reads_the_moved_notes_and_keeps_the_revert(engine: AsyncEngine) -> None:
    await seeded(engine)
    await upgrade_to_head(engine)
    view, around = SqlMessageView(engine), Around(AT + timedelta(minutes=1), live_workers=1)

    async def reason_of(nonce: int) -> tuple[str, str]:
        found = await view.one(N3, nonce)
        assert found is not None
        reason = why(*found, around)
        assert reason is not None
        return reason.code, reason.text

    assert (await reason_of(2))[0] == "direction_paused"
    assert (await reason_of(5))[0] == "receipt_refused"
    code, text = await reason_of(7)
    assert code == "receiver_failed"
    assert f"attempt 1: {REVERT}." in text
    code, text = await reason_of(10)
    assert code == "receiver_failed"
    assert "attempt 1: no reason was recorded." in text
    assert text.endswith(REFUSED_RECEIPT)
