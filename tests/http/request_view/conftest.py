"""The subscriptions tests' API (SQLite, and PostgreSQL with the application role) plus an operator:
a superadmin signed in with TOTP, who sees every tenant's requests."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from tests.http.subscriptions.conftest import (  # noqa: F401  (fixtures)
    Api,
    api,
    backend_settings,
    clock,
    subs_settings,
)

ROOT, ROOT_PASSWORD = "root", "correct horse battery staple 42"


def _code(app: Api, secret: str) -> str:
    app.clock.advance(seconds=30)  # each code is accepted once: the next 30-second step
    code: str = pyotp.TOTP(secret).at(app.clock.now())
    return code


@pytest.fixture
async def operator(api: Api) -> str:  # noqa: F811
    """A superadmin's access token (password + TOTP, as the console signs in)."""
    await api.container.iam.identity.create_superadmin(ROOT, ROOT_PASSWORD)
    body = {"username": ROOT, "password": ROOT_PASSWORD}
    limited = (await api.client.post("/api/v1/auth/token", json=body)).json()["access_token"]
    headers = {"authorization": f"Bearer {limited}"}
    enrolled = await api.client.post("/api/v1/auth/mfa/totp/enroll", headers=headers)
    secret = parse_qs(urlparse(enrolled.json()["otpauth_uri"]).query)["secret"][0]
    verify = {"code": _code(api, secret)}
    assert (
        await api.client.post("/api/v1/auth/mfa/totp/verify", headers=headers, json=verify)
    ).status_code == 200
    signed = await api.client.post("/api/v1/auth/token", json={**body, "totp_code": _code(api, secret)})
    assert signed.status_code == 200, signed.text
    return str(signed.json()["access_token"])
