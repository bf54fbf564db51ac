"""One live server for the client tests (starting it costs seconds; each test makes its own things)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.live import Live, live_server


@pytest.fixture(scope="session")
def live() -> Iterator[Live]:
    with live_server() as server:
        yield server
