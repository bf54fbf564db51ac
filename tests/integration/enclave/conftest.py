"""Runs the real enclave as a subprocess (``python -m neo_service_layer.enclave``) for integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from enclave_process_fakes import EnclaveProcess, RecordStore, running_enclave


@pytest.fixture
def enclave() -> Iterator[EnclaveProcess]:
    with running_enclave() as process:
        yield process


@pytest.fixture
def records() -> RecordStore:
    return RecordStore()
