"""One live server for the client tests (starting it costs seconds; each test makes its own things), and
an operator signed in to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nsl_client import Client
from tests.client.live import PASSWORD, Live, live_server


@pytest.fixture(scope="session")
def live() -> Iterator[Live]:
    with live_server() as server:
        yield server


@pytest.fixture(scope="session")
def operator(live: Live) -> Iterator[Client]:
    """The superadmin ``root`` (``platform:admin``), signed in once with one of its backup codes."""
    with Client(live.base_url) as client:
        tokens = client.sign_in("root", PASSWORD, backup_code=live.operator_codes[0])
        assert "superadmin" in tokens.roles
        yield client
        client.logout()
