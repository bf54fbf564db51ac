"""Both local chains and the real enclave for cross-chain messages: an anvil per test, the contract tests'
neo-go privnet (one per session), the compiled contracts, and an enclave process configured with its own
nodes of both chains and the two gateways (``crosschain_sign`` reads the source chain itself)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.anvil_support import REPO, anvil
from tests.contracts.conftest import chain

__all__ = ["anvil", "chain", "evm_contracts_built"]


@pytest.fixture(scope="session")
def evm_contracts_built() -> None:
    subprocess.run(
        [sys.executable, str(REPO / "contracts" / "build_evm.py")], check=True, capture_output=True
    )
