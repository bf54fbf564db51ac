"""An API on SQLite without an enclave or a chain (tenant jobs need neither), tenants with API keys,
and the oracle's operator allowance for webhook receivers on 127.0.0.1 over plain http."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
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
from tests.http.keys.conftest import MovableClock
from tests.scopes import ALL_SCOPES, TENANT_SCOPES


@dataclass
class Tenant:
    id: str
    container: Container
    client: httpx.AsyncClient
    keys: dict[tuple[str, ...], str] = field(default_factory=dict)

    async def call(self, method: str, path: str, *scopes: str, **kwargs: Any) -> httpx.Response:
        """``path`` under ``/api/v1/automation/jobs`` with an API key holding ``scopes`` (default: all)."""
        wanted = tuple(sorted(scopes or TENANT_SCOPES))
        if wanted not in self.keys:
            owner = Principal(
                tenant_id=self.id,
                subject="usr_test_owner",
                kind=PrincipalKind.USER,
                roles=frozenset({"owner"}),
                scopes=TENANT_SCOPES,
            )
            _, secret = await self.container.iam.api_keys.create(
                owner, self.id, name="t", scopes=list(wanted)
            )
            self.keys[wanted] = secret
        headers = {"authorization": f"Bearer {self.keys[wanted]}"}
        return await self.client.request(method, f"/api/v1/automation/jobs{path}", headers=headers, **kwargs)


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient

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
def jobs_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'nsl.db'}",
            "rate_limit_enabled": False,
            "password_hash_time_cost": 1,
            "password_hash_memory_kib": 64,
            "password_hash_parallelism": 1,
            "oracle_allow_hosts": ["127.0.0.1"],
            "oracle_allow_http": True,
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def api(jobs_settings: Callable[..., Settings], clock: MovableClock) -> AsyncIterator[Api]:
    app = create_app(jobs_settings(), clock=clock)
    async with app_client(app) as client:
        yield Api(app, client)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_settings(request: pytest.FixtureRequest, jobs_settings: Callable[..., Settings]) -> Settings:
    if request.param == "postgres":
        return jobs_settings(database_url=request.getfixturevalue("postgres_url"), db_app_role="nsl_app")
    return jobs_settings()


@pytest.fixture
async def backend(backend_settings: Settings, clock: MovableClock) -> AsyncIterator[tuple[Api, Settings]]:
    app = create_app(backend_settings, clock=clock)
    async with app_client(app) as client:
        yield Api(app, client), backend_settings
