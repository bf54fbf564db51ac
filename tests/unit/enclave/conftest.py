"""Fixtures for enclave unit tests: in-memory sealer and key store with a controllable clock."""

from __future__ import annotations

import os

import pytest
from enclave_fakes import FakeClock

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer


@pytest.fixture
def secret() -> bytes:
    return os.urandom(32)


@pytest.fixture
def sealer(secret: bytes) -> Sealer:
    return Sealer(secret)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keystore(sealer: Sealer, clock: FakeClock) -> KeyStore:
    return KeyStore(sealer, Revocations(sealer, None), clock=clock)
