"""Fixtures of the secret-source tests: a moto server (AWS) on 127.0.0.1 with a free port."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server in this process (its own thread), shared by the tests of one module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> str:
    """The moto endpoint, emptied before each test (moto's ``/moto-api/reset``)."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    return moto_endpoint
