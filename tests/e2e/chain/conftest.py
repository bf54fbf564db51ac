"""One fresh local installation per test (chain, enclave, database); every process stopped afterwards."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from tests.contracts.contract_support import build_contracts
from tests.e2e.chain.stack import Stack, close_stack, open_stack


@pytest.fixture(scope="session")
def contracts_built() -> None:
    build_contracts()


@pytest.fixture
async def stack(contracts_built: None) -> AsyncIterator[Stack]:
    opened = await open_stack()
    try:
        yield opened
    finally:
        await close_stack(opened)
        shutil.rmtree(opened.directory, ignore_errors=True)
