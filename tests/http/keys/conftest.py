"""An API on SQLite (or PostgreSQL) wired to a REAL enclave subprocess, and tenants with API keys.

One enclave process per test module (it starts in well under a second); each test gets a fresh
database. The API's data directory is the enclave's, so ``<data_dir>/enclave/platform.pub`` (the
simulated platform key the attestation verifier trusts in development) is the running enclave's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import Container
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN
from tests.http.appclient import app_client
from tests.integration.enclave.enclave_process_fakes import EnclaveProcess, running_enclave
from tests.scopes import ALL_SCOPES, TENANT_SCOPES

ALL = sorted(TENANT_SCOPES)


@pytest.fixture(scope="module")
def enclave() -> Iterator[EnclaveProcess]:
    # the host's clock is moved in these tests, not the enclave's: the enclave's destruction grace is 0
    # here (it still destroys only a disabled key; tests/integration/enclave checks the grace itself)
    with running_enclave("nsl-k-", extra={"NSL_KEY_DESTRUCTION_GRACE_SECONDS": "0"}) as process:
        yield process


@pytest.fixture
def ensure_enclave(enclave: EnclaveProcess) -> EnclaveProcess:
    """The module's enclave, restarted if an earlier test killed it."""
    if enclave.process is None or enclave.process.poll() is not None:
        enclave.start()
    return enclave


@dataclass
class Tenant:
    id: str
    container: Container
    client: httpx.AsyncClient
    keys: dict[tuple[str, ...], str] = field(default_factory=dict)

    async def headers(self, *scopes: str) -> dict[str, str]:
        """``Authorization`` for an API key of this tenant holding exactly ``scopes`` (default: all)."""
        wanted = tuple(sorted(scopes or ALL))
        if wanted not in self.keys:
            owner = Principal(
                tenant_id=self.id,
                subject="usr_test_owner",
                kind=PrincipalKind.USER,
                roles=frozenset({"owner"}),
                scopes=TENANT_SCOPES,
            )
            _, secret = await self.container.iam.api_keys.create(
                owner, self.id, name="test", scopes=list(wanted)
            )
            self.keys[wanted] = secret
        return {"authorization": f"Bearer {self.keys[wanted]}"}

    async def call(self, method: str, path: str, *scopes: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=await self.headers(*scopes), **kwargs)


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    enclave: EnclaveProcess

    @property
    def container(self) -> Container:
        return self.app.state.container  # type: ignore[no-any-return]

    async def tenant(self, name: str) -> Tenant:
        admin = Principal(
            tenant_id=PLATFORM_TENANT,
            subject="usr_test_admin",
            kind=PrincipalKind.USER,
            roles=frozenset({SUPERADMIN}),
            scopes=ALL_SCOPES,
        )
        created = await self.container.iam.identity.create_tenant(admin, name)
        return Tenant(created.id, self.container, self.client)


@pytest.fixture
def api_settings(
    make_settings: Callable[..., Settings], ensure_enclave: EnclaveProcess, tmp_path: Path
) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": ensure_enclave.data_dir,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'nsl.db'}",
            "enclave_socket": ensure_enclave.socket_path,
            "enclave_token": ensure_enclave.token,
            "enclave_timeout_seconds": 5,
            "rate_limit_enabled": False,
            "password_hash_time_cost": 1,
            "password_hash_memory_kib": 64,
            "password_hash_parallelism": 1,
            # the operator's explicit allowance for the fake import sources on 127.0.0.1
            "secret_sources_allow_hosts": ["127.0.0.1"],
            "secret_sources_allow_http": True,
        }
        values.update(overrides)
        return make_settings(**values)

    return make


class MovableClock:
    """The system time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def api(
    api_settings: Callable[..., Settings], ensure_enclave: EnclaveProcess, clock: MovableClock
) -> AsyncIterator[Api]:
    app = create_app(api_settings(), clock=clock)
    async with app_client(app) as client:
        yield Api(app, client, app.state.container.settings, ensure_enclave)
