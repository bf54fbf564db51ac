"""One fresh local installation per test (chain, enclave, database); every process stopped afterwards."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.contracts.contract_support import build_contracts
from tests.e2e.chain.stack import Stack, close_stack, open_stack
from tests.e2e.chain.tls_support import LoopbackCertificates, make_certificates


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


@pytest.fixture
def certificates() -> Iterator[LoopbackCertificates]:
    """A throwaway test CA and a loopback server certificate (Neo's oracle fetches ``https`` only)."""
    directory = Path(tempfile.mkdtemp(prefix="nsl-tls-"))
    try:
        yield make_certificates(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
