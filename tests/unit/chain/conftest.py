"""A migrated SQLite database per test for the chain store (real SQL, no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from neo_service_layer.adapters.db.chain_repositories import ChainStore
from neo_service_layer.adapters.db.engine import create_engine
from neo_service_layer.adapters.db.migrate import upgrade_to_head
from neo_service_layer.config import Settings


@pytest.fixture
async def store(make_settings: Callable[..., Settings]) -> AsyncIterator[ChainStore]:
    settings = make_settings()
    engine = create_engine(settings)
    await upgrade_to_head(engine)
    try:
        yield ChainStore(engine)
    finally:
        await engine.dispose()
