"""The keys API's fixtures (an API on SQLite wired to a real enclave subprocess), and the compute key."""

from __future__ import annotations

import pytest

from neo_service_layer.services.compute.adapters.compute_key import ensure_compute_key
from neo_service_layer.services.compute.rules import ComputeKey
from tests.http.keys.conftest import Api, api, api_settings, clock, enclave, ensure_enclave  # noqa: F401


@pytest.fixture
async def compute_key(api: Api) -> ComputeKey:  # noqa: F811
    """The platform's compute key, as ``nsl chain up`` creates it."""
    c = api.container
    return await ensure_compute_key(c.platform_keys, c.enclave, c.clock)
