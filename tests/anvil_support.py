"""A real local EVM chain for tests: anvil (npm ``@foundry-rs/anvil``, installed by ``make venv``).

``anvil`` (the fixture) starts one anvil per test on a free loopback port and stops it afterwards;
import it into a ``conftest.py`` (``from tests.anvil_support import anvil``) to use it. Anvil mines a
block for each transaction (automine). Its development accounts are funded with 10,000 ETH each; their
keys are anvil's published defaults (``test test ... junk``), usable on no real network.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

REPO = Path(__file__).resolve().parents[1]
CHAIN_ID = 31337
#: anvil's default development keys (mnemonic "test test test test test test test test test test test
#: junk"): 0 deploys and owns the contracts, 1 pays for the service's transactions, 2 is a dApp user
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)


def anvil_binary() -> Path:
    """The platform binary shipped inside the npm package (its postinstall is not needed)."""
    found = sorted((REPO / ".tools" / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if not found:
        pytest.fail("anvil is not installed: run `make venv` (npm @foundry-rs/anvil into .tools)")
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dev_account(index: int) -> LocalAccount:
    account: LocalAccount = Account.from_key(DEV_KEYS[index])
    return account


@dataclass
class Anvil:
    """One anvil process on 127.0.0.1:``port``."""

    directory: Path
    chain_id: int = CHAIN_ID
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        log = (self.directory / f"anvil-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(anvil_binary()),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--chain-id",
                str(self.chain_id),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"anvil exited with {self.process.returncode}")
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError("anvil did not answer in time")

    def _answers(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return int(json.loads(response.read())["result"], 16) == self.chain_id
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[Anvil]:
    node = Anvil(tmp_path)
    node.start()
    try:
        yield node
    finally:
        node.stop()
