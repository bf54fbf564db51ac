"""429 with Retry-After and RateLimit-* headers; client IP from trusted proxies only; per-plan limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.http.identity.conftest import GENEROUS_LIMITS, Api, bearer
from tests.http.identity.test_auth_routes import _problem


async def test_auth_routes_are_limited_per_ip(make_api: Callable[..., Any]) -> None:
    async with make_api(rate_limits_per_ip={**GENEROUS_LIMITS, "auth": "3/minute"}) as api:
        for remaining in (2, 1, 0):
            response = await api.token("someone", "not the right password")
            assert response.status_code == 401
            assert response.headers["ratelimit-limit"] == "3"
            assert response.headers["ratelimit-remaining"] == str(remaining)
            assert int(response.headers["ratelimit-reset"]) <= 60
        refused = await api.token("someone", "not the right password")
        _problem(refused, 429, "rate-limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["x-request-id"]
        # other groups have their own budget; health is not limited
        assert (await api.client.get("/.well-known/jwks.json")).status_code == 200
        assert "ratelimit-limit" not in (await api.client.get("/health/live")).headers


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(make_api: Callable[..., Any]) -> None:
    limits = {**GENEROUS_LIMITS, "general": "2/minute"}
    # the test client's peer is 203.0.113.9 (see tests/http/appclient.py)
    async with make_api(rate_limits_per_ip=limits, trusted_proxies=["203.0.113.0/24"]) as api:
        for client in ("198.51.100.1", "198.51.100.2"):
            for _ in range(2):
                ok = await api.client.get("/.well-known/jwks.json", headers={"X-Forwarded-For": f"{client}"})
                assert ok.status_code == 200
        spoof = {"X-Forwarded-For": "10.1.1.1, 198.51.100.1"}  # right-most untrusted entry counts
        _problem(await api.client.get("/.well-known/jwks.json", headers=spoof), 429, "rate-limited")
    async with make_api(rate_limits_per_ip=limits) as api:  # no trusted proxies: the header is ignored
        for client in ("198.51.100.1", "198.51.100.2"):
            response = await api.client.get("/.well-known/jwks.json", headers={"X-Forwarded-For": client})
            assert response.status_code == 200
        third = await api.client.get("/.well-known/jwks.json", headers={"X-Forwarded-For": "198.51.100.3"})
        _problem(third, 429, "rate-limited")


async def test_principal_limits_follow_the_tenant_plan(make_api: Callable[..., Any]) -> None:
    async with make_api(
        rate_limits={**GENEROUS_LIMITS, "general": "3/minute"},
        rate_limit_plans={"platform": {"general": "1000/minute"}},
    ) as api:
        root = await api.root_token()  # the platform plan is generous
        for _ in range(5):
            assert (await api.client.get("/api/v1/auth/me", headers=bearer(root))).status_code == 200
        created = await api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": "acme"})
        tenant_id = created.json()["id"]
        assert (await api.client.get("/api/v1/auth/me", headers=bearer(root))).headers[
            "ratelimit-limit"
        ] == "1000"
        key = await _key(api, root, tenant_id)
        for remaining in (2, 1, 0):
            response = await api.client.get("/api/v1/auth/me", headers=bearer(key))
            assert response.headers["ratelimit-remaining"] == str(remaining)
        _problem(await api.client.get("/api/v1/auth/me", headers=bearer(key)), 429, "rate-limited")


async def _key(api: Api, root: str, tenant_id: str) -> str:
    response = await api.client.post(
        f"/api/v1/tenants/{tenant_id}/api-keys",
        headers=bearer(root),
        json={"name": "k", "scopes": ["keys:read"]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])
