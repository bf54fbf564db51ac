"""Fixtures of the secret-source tests: a moto server (AWS) on 127.0.0.1 with a free port."""

from __future__ import annotations

import urllib.request

import pytest

from tests.moto_support import moto_endpoint

__all__ = ["moto_endpoint"]  # a fixture


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> str:
    """The moto endpoint, emptied before each test (moto's ``/moto-api/reset``)."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    return moto_endpoint
