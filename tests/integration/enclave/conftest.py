"""Runs the real enclave as a subprocess (``python -m neo_service_layer.enclave``) for integration tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from enclave_process_fakes import EnclaveProcess, RecordStore


@pytest.fixture
def enclave() -> Iterator[EnclaveProcess]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-enc-"))  # short: Unix socket paths are limited
    process = EnclaveProcess(directory, directory / "e.sock")
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def records() -> RecordStore:
    return RecordStore()
