"""What an attacker cannot do at the identity edges (issue #13), over real HTTP in process.

- Failed sign-ins from one client cannot lock the account for another client (per-client backoff, 429).
- Failed sign-ins cannot write to a tenant's audit chain (only the platform's).
- A disabled user or a removed member cannot go on with their access token, refresh token or API keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem

CLIENT_A = {"X-Forwarded-For": "198.51.100.1"}
CLIENT_B = {"X-Forwarded-For": "198.51.100.2"}
WRONG = "not the right password"


@pytest.fixture
async def edge_api(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    """The API behind a trusted proxy, so each test can speak as several clients (X-Forwarded-For)."""
    async with make_api(trusted_proxies=["203.0.113.0/24"]) as opened:
        yield opened


async def _token(api: Api, client: dict[str, str], password: str, **extra: Any) -> httpx.Response:
    return await api.client.post(
        "/api/v1/auth/token", headers=client, json={"username": "dev", "password": password, **extra}
    )


async def _tenant_with_developer(api: Api, root: str, name: str = "acme") -> str:
    created = await api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": name})
    assert created.status_code == 201, created.text
    tenant_id = str(created.json()["id"])
    added = await api.client.post(
        f"/api/v1/tenants/{tenant_id}/members",
        headers=bearer(root),
        json={"username": "dev", "role": "developer", "password": PASSWORD},
    )
    assert added.status_code == 201, added.text
    return tenant_id


# 1. sign-in throttle per (account, client) ---------------------------------------------------------


async def test_failures_from_client_a_do_not_stop_a_correct_sign_in_from_client_b(edge_api: Api) -> None:
    api = edge_api
    await _tenant_with_developer(api, await api.root_token())
    for _ in range(5):
        _problem(await _token(api, CLIENT_A, WRONG), 401, "invalid-credentials")
    refused = await _token(api, CLIENT_A, PASSWORD)  # client A waits, even with the right password
    _problem(refused, 429, "rate-limited")
    assert refused.headers["Retry-After"] == "1"
    assert (await _token(api, CLIENT_B, PASSWORD)).status_code == 200
    for _ in range(5):  # and client B keeps its own budget of mistakes
        _problem(await _token(api, CLIENT_B, WRONG), 401, "invalid-credentials")


async def test_client_a_waits_longer_after_each_failure_and_resets_after_success(edge_api: Api) -> None:
    api = edge_api
    await _tenant_with_developer(api, await api.root_token())
    for _ in range(4):
        _problem(await _token(api, CLIENT_A, WRONG), 401, "invalid-credentials")
    waits = []
    for _ in range(4):
        _problem(await _token(api, CLIENT_A, WRONG), 401, "invalid-credentials")
        refused = await _token(api, CLIENT_A, WRONG)
        _problem(refused, 429, "rate-limited")
        waits.append(int(refused.headers["Retry-After"]))
        api.clock.advance(seconds=waits[-1] - 0.5)
        _problem(await _token(api, CLIENT_A, PASSWORD), 429, "rate-limited")  # not yet
        api.clock.advance(seconds=0.5)
    assert waits == [1, 2, 4, 8]
    assert (await _token(api, CLIENT_A, PASSWORD)).status_code == 200
    # the success reset client A's count: its next mistakes cost nothing again
    for _ in range(4):
        _problem(await _token(api, CLIENT_A, WRONG), 401, "invalid-credentials")
    assert (await _token(api, CLIENT_A, PASSWORD)).status_code == 200


# 2. failed sign-ins stay out of tenant audit chains -------------------------------------------------


async def test_failed_sign_ins_do_not_append_to_the_tenants_audit_chain(edge_api: Api) -> None:
    api = edge_api
    root = await api.root_token()
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    await api.client.post(
        f"/api/v1/tenants/{tenant_id}/members",
        headers=bearer(owner),
        json={"username": "dev", "role": "developer", "password": PASSWORD},
    )

    async def chain(token: str) -> list[dict[str, Any]]:
        page = await api.client.get("/api/v1/audit?limit=200", headers=bearer(token))
        assert page.status_code == 200, page.text
        entries: list[dict[str, Any]] = page.json()["entries"]
        return entries

    before = await chain(owner)
    platform_before = await chain(root)
    for i in range(18):  # wrong passwords, unknown users, throttled attempts; all naming the tenant
        client = {"X-Forwarded-For": f"198.51.100.{i % 3}"}
        for username in ("dev", f"nobody{i}"):
            response = await api.client.post(
                "/api/v1/auth/token",
                headers=client,
                json={"username": username, "password": WRONG, "tenant": "acme"},
            )
            assert response.status_code in (401, 429)
    after = await chain(owner)
    assert after == before  # not one entry more
    platform_after = await chain(root)
    new = platform_after[: len(platform_after) - len(platform_before)]
    assert {e["action"] for e in new} == {"auth.login"}
    assert {e["outcome"] for e in new} == {"failure", "denied"}
    assert {e["details"]["tenant"] for e in new} == {"acme"}
    # a success is still recorded in the tenant's own chain
    assert (await _token(api, {"X-Forwarded-For": "192.0.2.50"}, PASSWORD, tenant="acme")).status_code == 200
    latest = (await chain(owner))[0]
    assert (latest["action"], latest["outcome"]) == ("auth.login", "success")


# 3. disable and removal end sessions and API keys ---------------------------------------------------


async def _developer_with_everything(api: Api, root: str, tenant_id: str) -> dict[str, str]:
    """Sign in as dev: access and refresh token, and an API key dev created in the tenant."""
    tokens = await api.sign_in("dev", tenant=tenant_id)
    created = await api.client.post(
        f"/api/v1/tenants/{tenant_id}/api-keys",
        headers=bearer(tokens["access_token"]),
        json={"name": "ci", "scopes": ["keys:read"]},
    )
    assert created.status_code == 201, created.text
    credentials = {
        "access": str(tokens["access_token"]),
        "refresh": str(tokens["refresh_token"]),
        "key": str(created.json()["key"]),
    }
    for credential in (credentials["access"], credentials["key"]):
        assert (await api.client.get("/api/v1/auth/me", headers=bearer(credential))).status_code == 200
    return credentials


async def _assert_all_refused(api: Api, credentials: dict[str, str]) -> None:
    _problem(
        await api.client.get("/api/v1/auth/me", headers=bearer(credentials["access"])), 401, "token-revoked"
    )
    _problem(
        await api.client.get("/api/v1/auth/me", headers=bearer(credentials["key"])), 401, "invalid-api-key"
    )
    _problem(
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": credentials["refresh"]}),
        401,
        "token-revoked",
    )


async def test_a_disabled_user_cannot_use_access_refresh_token_or_api_key(api: Api, root: str) -> None:
    alpha = await _tenant_with_developer(api, root, "alpha")
    beta = await api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": "beta"})
    beta_id = str(beta.json()["id"])
    await api.client.post(
        f"/api/v1/tenants/{beta_id}/members",
        headers=bearer(root),
        json={"username": "dev", "role": "developer"},
    )
    in_alpha = await _developer_with_everything(api, root, alpha)
    in_beta = await _developer_with_everything(api, root, beta_id)
    members = (await api.client.get(f"/api/v1/tenants/{alpha}/members", headers=bearer(root))).json()
    dev_id = next(m["user_id"] for m in members if m["username"] == "dev")
    disabled = await api.client.post(f"/api/v1/users/{dev_id}/disable", headers=bearer(root))
    assert disabled.status_code == 204, disabled.text
    await _assert_all_refused(api, in_alpha)
    await _assert_all_refused(api, in_beta)
    _problem(await api.token("dev", tenant=alpha), 401, "invalid-credentials")


async def test_a_removed_member_cannot_use_access_refresh_token_or_api_key_there(api: Api, root: str) -> None:
    alpha = await _tenant_with_developer(api, root, "alpha")
    beta = await api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": "beta"})
    beta_id = str(beta.json()["id"])
    await api.client.post(
        f"/api/v1/tenants/{beta_id}/members",
        headers=bearer(root),
        json={"username": "dev", "role": "developer"},
    )
    in_alpha = await _developer_with_everything(api, root, alpha)
    in_beta = await _developer_with_everything(api, root, beta_id)
    members = (await api.client.get(f"/api/v1/tenants/{alpha}/members", headers=bearer(root))).json()
    dev_id = next(m["user_id"] for m in members if m["username"] == "dev")
    removed = await api.client.delete(f"/api/v1/tenants/{alpha}/members/{dev_id}", headers=bearer(root))
    assert removed.status_code == 204, removed.text
    await _assert_all_refused(api, in_alpha)
    # the member's access to the other tenant is untouched
    for credential in (in_beta["access"], in_beta["key"]):
        assert (await api.client.get("/api/v1/auth/me", headers=bearer(credential))).status_code == 200
    refreshed = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": in_beta["refresh"]})
    assert refreshed.status_code == 200, refreshed.text
    # added back later, the old access token stays dead (it predates the new membership)
    api.clock.advance(seconds=2)
    again = await api.client.post(
        f"/api/v1/tenants/{alpha}/members",
        headers=bearer(root),
        json={"username": "dev", "role": "developer"},
    )
    assert again.status_code == 201, again.text
    _problem(
        await api.client.get("/api/v1/auth/me", headers=bearer(in_alpha["access"])), 401, "token-revoked"
    )


async def test_only_a_superadmin_disables_an_account_over_http(api: Api, root: str) -> None:
    alpha = await _tenant_with_developer(api, root, "alpha")
    in_alpha = await _developer_with_everything(api, root, alpha)
    members = (await api.client.get(f"/api/v1/tenants/{alpha}/members", headers=bearer(root))).json()
    dev_id = next(m["user_id"] for m in members if m["username"] == "dev")
    refused = await api.client.post(f"/api/v1/users/{dev_id}/disable", headers=bearer(in_alpha["access"]))
    assert refused.status_code == 403, refused.text
    missing = await api.client.post("/api/v1/users/usr_nobody/disable", headers=bearer(root))
    assert missing.status_code == 404, missing.text
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(in_alpha["access"]))).status_code == 200
