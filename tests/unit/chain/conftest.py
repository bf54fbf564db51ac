"""A migrated database per test for the chain stores (real SQL on SQLite and PostgreSQL, no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.kernel.db.migrate import upgrade_to_head
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.use_cases import RandomnessStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    """The store runs on SQLite, and on PostgreSQL too (where claiming uses ``SKIP LOCKED``)."""
    if request.param == "sqlite":
        return make_settings()
    return make_settings(database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
async def engine(store_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(store_settings)
    await upgrade_to_head(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> RandomnessStore:
    """The pipeline's store as the randomness service uses it (payloads in ``randomness_requests``)."""
    return SqlRequestStore(engine, RandomnessPayloads())
