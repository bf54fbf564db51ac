"""The API in process (lifespan running, SQLite, fake clock) with helpers to sign in and enrol TOTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import Container
from tests.http.appclient import app_client
from tests.unit.identity.fakes import FakeClock

PASSWORD = "a long enough pass phrase"
ROOT = "root"
ROOT_PASSWORD = "root pass phrase, long enough"
FAST_HASHING: dict[str, Any] = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 64,
    "password_hash_parallelism": 1,
}
GENEROUS_LIMITS = {"general": "10000/minute", "key_management": "10000/minute", "auth": "10000/minute"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI
    clock: FakeClock
    totp_secrets: dict[str, str] = field(default_factory=dict)

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    def code(self, secret: str) -> str:
        """A fresh TOTP code: each code is accepted once, so move to the next 30-second step."""
        self.clock.advance(seconds=30)
        code: str = pyotp.TOTP(secret).at(self.clock.now())
        return code

    async def token(self, username: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/token", json={"username": username, "password": password, **extra}
        )

    async def sign_in(
        self, username: str, password: str = PASSWORD, *, totp: str | None = None, tenant: str | None = None
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if totp:
            extra["totp_code"] = self.code(totp)
        if tenant:
            extra["tenant"] = tenant
        response = await self.token(username, password, **extra)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def enrol(self, username: str, password: str = PASSWORD) -> str:
        """Enrol TOTP through the API with the enrolment-only token; return the TOTP secret."""
        limited = await self.sign_in(username, password)
        headers = bearer(limited["access_token"])
        enrolled = await self.client.post("/api/v1/auth/mfa/totp/enroll", headers=headers)
        assert enrolled.status_code == 200, enrolled.text
        secret = parse_qs(urlparse(enrolled.json()["otpauth_uri"]).query)["secret"][0]
        verified = await self.client.post(
            "/api/v1/auth/mfa/totp/verify", headers=headers, json={"code": self.code(secret)}
        )
        assert verified.status_code == 200, verified.text
        self.totp_secrets[username] = secret
        return secret

    async def root_token(self) -> str:
        await self.container.iam.identity.create_superadmin(ROOT, ROOT_PASSWORD)
        secret = await self.enrol(ROOT, ROOT_PASSWORD)
        return str((await self.sign_in(ROOT, ROOT_PASSWORD, totp=secret))["access_token"])

    async def tenant_with_owner(self, root: str, name: str, owner: str) -> tuple[str, str, str]:
        """Create tenant ``name`` with owner ``owner`` (TOTP enrolled); return (tenant id, token, secret)."""
        created = await self.client.post("/api/v1/tenants", headers=bearer(root), json={"name": name})
        assert created.status_code == 201, created.text
        tenant_id = str(created.json()["id"])
        added = await self.client.post(
            f"/api/v1/tenants/{tenant_id}/members",
            headers=bearer(root),
            json={"username": owner, "role": "owner", "password": PASSWORD},
        )
        assert added.status_code == 201, added.text
        secret = await self.enrol(owner)
        token = (await self.sign_in(owner, totp=secret))["access_token"]
        return tenant_id, str(token), secret


@pytest.fixture
def identity_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            **FAST_HASHING,
            "rate_limits": GENEROUS_LIMITS,
            "rate_limits_per_ip": GENEROUS_LIMITS,
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture
def make_api(identity_settings: Callable[..., Settings]) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        clock = FakeClock()
        app = create_app(identity_settings(**overrides), migrate=True, clock=clock)

        class _Open:
            async def __aenter__(self) -> Api:
                self._cm = app_client(app)
                client = await self._cm.__aenter__()
                return Api(client, app, clock)

            async def __aexit__(self, *exc: object) -> None:
                await self._cm.__aexit__(None, None, None)

        return _Open()

    return make


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    async with make_api() as opened:
        yield opened


@pytest.fixture
async def root(api: Api) -> str:
    return await api.root_token()
