"""A migrated database per test for the chain store (real SQL on SQLite and PostgreSQL, no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    """The store runs on SQLite, and on PostgreSQL too (where claiming uses ``SKIP LOCKED``)."""
    if request.param == "sqlite":
        return make_settings()
    return make_settings(database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(store_settings: Settings) -> AsyncIterator[ChainStore]:
    engine = create_engine(store_settings)
    await upgrade_to_head(engine)
    try:
        yield ChainStore(engine)
    finally:
        await engine.dispose()
