"""The API's events listener never stops the API from starting: with PostgreSQL unreachable the block
is entered, nothing listens (the streams poll), and leaving it closes cleanly."""

from __future__ import annotations

import socket

from sqlalchemy.ext.asyncio import create_async_engine

from neo_service_layer.kernel.events.listener import listening, listens


async def test_an_unreachable_database_leaves_the_api_polling() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = create_async_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none", connect_args={"timeout": 2}
    )
    rings: list[str | None] = []
    try:
        async with listening(engine, rings.append) as listener:
            assert not listener.listening
        assert rings == []
    finally:
        await engine.dispose()


async def test_only_a_postgresql_pool_with_a_connection_to_spare_listens() -> None:
    postgres = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/none")
    sqlite = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        assert listens(postgres, 2)
        assert not listens(postgres, 1)  # the listener would hold the only connection
        assert not listens(sqlite, 20)
    finally:
        await postgres.dispose()
        await sqlite.dispose()
