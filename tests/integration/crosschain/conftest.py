"""Real chains for the gateways' tests: an anvil per test (``tests/anvil_support.py``) with the compiled
Solidity contracts, and the contract tests' neo-go privnet (one per session, ``tests/contracts``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.anvil_support import REPO, anvil
from tests.contracts.conftest import chain

__all__ = ["anvil", "chain", "evm_contracts_built"]


@pytest.fixture(scope="session")
def evm_contracts_built() -> None:
    """``contracts/build_evm.py`` (solc-js): compiles only when a source or the compiler changed."""
    subprocess.run(
        [sys.executable, str(REPO / "contracts" / "build_evm.py")], check=True, capture_output=True
    )
