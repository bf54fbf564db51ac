"""Processes of the chaos run brought back or stopped at a chosen moment: the enclave started again on
its socket and data (its keys come back sealed), and neo-go stopped (SIGSTOP) with every block on disk."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time

from neo_service_layer.kernel.chain.adapters.privnet import Privnet
from tests.e2e.chain.stack import Stack, _enclave_up

_APPROVED = re.compile(rb'approving block\t\{"height": (\d+)')
_PERSISTED = re.compile(rb'persisted to disk\t\{.*"blockHeight": (\d+)')


async def stop_when_persisted(net: Privnet, timeout: float = 10.0) -> None:
    """SIGSTOP ``net`` at a moment when the last block it approved is on disk (its log says both)."""
    assert net.pid is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        os.kill(net.pid, signal.SIGSTOP)
        tail = net.log_path.read_bytes()[-20_000:]
        approved = _APPROVED.findall(tail)
        persisted = _PERSISTED.findall(tail)
        if approved and persisted and int(approved[-1]) <= int(persisted[-1]):
            return
        os.kill(net.pid, signal.SIGCONT)
        await asyncio.sleep(0.01)
    raise AssertionError("the node never stood with every block on disk")


async def start_enclave(stack: Stack) -> subprocess.Popen[bytes]:
    """The enclave process again, on the same socket and data directory (its keys come back sealed)."""
    with (stack.directory / "enclave.log").open("ab") as log:
        enclave = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "enclave"],
            env=stack.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60  # its start-up is seconds, many more on a loaded machine
    while not _enclave_up(stack.directory / "e.sock"):
        assert enclave.poll() is None, (stack.directory / "enclave.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "the enclave did not start listening again"
        await asyncio.sleep(0.05)
    return enclave
