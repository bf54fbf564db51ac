"""The client's cross-chain operations against the live server: messages written through the real store
into its database, read back with their ``why`` by id, by sender and page after page of recent ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from nsl_client import AsyncClient, Client, ValidationFailed
from nsl_client.ops import recent_crosschain_messages
from tests.client.live import Live
from tests.http.crosschain_seed import (
    N3,
    NEOX,
    NEWEST_FIRST,
    RECEIPT_WAIT,
    REVERT,
    SENDER,
    seed_messages,
)


@pytest.fixture(scope="module")
def seeded(live: Live) -> Live:
    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{live.data_dir / 'nsl.db'}")
        try:
            await seed_messages(engine, datetime.now(UTC))
        finally:
            await engine.dispose()

    asyncio.run(seed())
    return live


def test_messages_with_their_why_by_id_by_sender_and_recent(seeded: Live) -> None:
    with Client(seeded.base_url, api_key=seeded.api_key) as client:
        failed = client.get_crosschain_message(f"{N3}-2")
        assert (failed.status, failed.src_chain, failed.dest_chain) == ("failed", str(N3), str(NEOX))
        assert failed.why is not None
        assert (failed.why.code, failed.why.stuck) == ("receiver_failed", True)
        assert REVERT in failed.why.text
        assert (failed.reason, failed.relay_note) == (REVERT, RECEIPT_WAIT)  # the outcome and the note
        done = client.get_crosschain_message(f"{N3}-1")
        assert (done.status, done.receipt_status, done.why) == ("executed", "stored", None)
        mine = client.sender_crosschain_messages(N3, "0x" + SENDER.hex(), limit=2)
        assert ([m.nonce for m in mine.items], mine.next) == ([1, 2], 2)
        page = client.recent_crosschain_messages(limit=3)
        assert [m.message_id for m in page.items] == NEWEST_FIRST[:3]
        assert page.next_cursor is not None
        every = [m.message_id for m in client.iterate(recent_crosschain_messages, limit=2)]
        assert every == NEWEST_FIRST
        refused = client.recent_crosschain_messages(status="refused", source=N3, destination=NEOX)
        assert [m.message_id for m in refused.items] == [f"{N3}-5"]
        with pytest.raises(ValidationFailed):
            client.recent_crosschain_messages(after="not-a-cursor")


def test_the_async_client_reads_recent_messages(seeded: Live) -> None:
    async def main() -> list[str]:
        async with AsyncClient(seeded.base_url, api_key=seeded.api_key) as client:
            page = await client.recent_crosschain_messages(source=NEOX)
            return [m.message_id for m in page.items]

    assert asyncio.run(main()) == [f"{NEOX}-2", f"{NEOX}-1"]
