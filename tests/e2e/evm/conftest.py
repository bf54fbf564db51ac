"""Neo X locally: a real anvil (``tests/anvil_support.py``), the compiled Solidity contracts, and the real
enclave process with one token per client (the worker's token asks for the answers)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.anvil_support import REPO, anvil
from tests.integration.enclave.enclave_process_fakes import PeerEnclave, running_enclave

__all__ = ["anvil", "enclave", "evm_contracts_built"]

TOKENS = {
    "api": "api-token-evm-e2e-0123",
    "worker": "worker-token-evm-e2e-01",
    "cli": "cli-token-evm-e2e-0123",
}


@pytest.fixture(scope="session")
def evm_contracts_built() -> None:
    subprocess.run(
        [sys.executable, str(REPO / "contracts" / "build_evm.py")], check=True, capture_output=True
    )


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    extra = {"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""}
    with running_enclave("nsl-evm-", token="", extra=extra) as process:
        yield process
