"""A real anvil per test (``tests/anvil_support.py``) and the compiled Solidity contracts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.anvil_support import REPO, anvil

__all__ = ["anvil", "evm_contracts_built"]


@pytest.fixture(scope="session")
def evm_contracts_built() -> None:
    """``contracts/build_evm.py`` (solc-js): compiles only when a source or the compiler changed."""
    subprocess.run(
        [sys.executable, str(REPO / "contracts" / "build_evm.py")], check=True, capture_output=True
    )
