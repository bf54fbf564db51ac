"""The principal cache: a checked credential is answered from memory, and every revocation is seen at
the next request (API key revoked, signed out, member removed, account disabled, role changed)."""

from __future__ import annotations

import re

from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem

ME = "/api/v1/auth/me"


async def counter(api: Api, name: str, cache: str) -> float:
    text = (await api.client.get("/metrics")).text
    found = re.search(rf'^nsl_cache_{name}_total{{cache="{cache}"}} ([0-9.e+]+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def _key(api: Api, tenant_id: str, token: str) -> tuple[str, str]:
    created = await api.client.post(
        f"/api/v1/tenants/{tenant_id}/api-keys",
        headers=bearer(token),
        json={"name": "ci", "scopes": ["members:read"]},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"]), str(created.json()["key"])


async def test_api_key_is_served_from_the_cache_until_revoked(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    key_id, key = await _key(api, tenant_id, owner)
    misses = await counter(api, "misses", "api_key")
    hits = await counter(api, "hits", "api_key")
    for _ in range(3):
        assert (await api.client.get(ME, headers=bearer(key))).status_code == 200
    assert await counter(api, "misses", "api_key") == misses + 1
    assert await counter(api, "hits", "api_key") == hits + 2
    revoked = await api.client.delete(f"/api/v1/tenants/{tenant_id}/api-keys/{key_id}", headers=bearer(owner))
    assert revoked.status_code == 200
    _problem(await api.client.get(ME, headers=bearer(key)), 401, "invalid-api-key")


async def test_a_cached_api_key_still_expires_and_its_use_is_still_recorded(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    key_id, key = await _key(api, tenant_id, owner)
    assert (await api.client.get(ME, headers=bearer(key))).status_code == 200
    shown = f"/api/v1/tenants/{tenant_id}/api-keys/{key_id}"
    first_use = (await api.client.get(shown, headers=bearer(owner))).json()["last_used_at"]
    api.clock.advance(seconds=90)  # past the touch interval: the cached key records its use again
    assert (await api.client.get(ME, headers=bearer(key))).status_code == 200
    later_use = (await api.client.get(shown, headers=bearer(owner))).json()["last_used_at"]
    assert first_use is not None
    assert later_use is not None
    assert later_use > first_use


async def test_sign_out_ends_a_cached_access_token(api: Api, root: str) -> None:
    _tenant_id, owner, secret = await api.tenant_with_owner(root, "acme", "alice")
    token = (await api.sign_in("alice", totp=secret))["access_token"]
    hits = await counter(api, "hits", "access_token")
    assert (await api.client.get(ME, headers=bearer(token))).status_code == 200
    assert (await api.client.get(ME, headers=bearer(token))).status_code == 200
    assert await counter(api, "hits", "access_token") >= hits + 1
    assert (await api.client.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
    _problem(await api.client.get(ME, headers=bearer(token)), 401, "token-revoked")
    # the other session of the same user is untouched
    assert (await api.client.get(ME, headers=bearer(owner))).status_code == 200


async def test_removing_a_member_ends_its_cached_token_and_keys(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    members = f"/api/v1/tenants/{tenant_id}/members"
    added = await api.client.post(
        members, headers=bearer(owner), json={"username": "bob", "role": "admin", "password": PASSWORD}
    )
    bob_secret = await api.enrol("bob")
    bob = (await api.sign_in("bob", totp=bob_secret))["access_token"]
    _, bob_key = await _key(api, tenant_id, bob)
    for credential in (bob, bob_key, bob, bob_key):
        assert (await api.client.get(ME, headers=bearer(credential))).status_code == 200
    removed = await api.client.delete(f"{members}/{added.json()['user_id']}", headers=bearer(owner))
    assert removed.status_code == 204
    _problem(await api.client.get(ME, headers=bearer(bob)), 401, "token-revoked")
    _problem(await api.client.get(ME, headers=bearer(bob_key)), 401, "invalid-api-key")


async def test_disabling_an_account_ends_its_cached_token(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    members = f"/api/v1/tenants/{tenant_id}/members"
    added = await api.client.post(
        members, headers=bearer(owner), json={"username": "carol", "role": "viewer", "password": PASSWORD}
    )
    carol = (await api.sign_in("carol"))["access_token"]
    for _ in range(2):
        assert (await api.client.get(ME, headers=bearer(carol))).status_code == 200
    disabled = await api.client.post(f"/api/v1/users/{added.json()['user_id']}/disable", headers=bearer(root))
    assert disabled.status_code == 204
    _problem(await api.client.get(ME, headers=bearer(carol)), 401, "token-revoked")


async def test_a_role_change_drops_the_cached_token(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    members = f"/api/v1/tenants/{tenant_id}/members"
    added = await api.client.post(
        members, headers=bearer(owner), json={"username": "dan", "role": "viewer", "password": PASSWORD}
    )
    dan = (await api.sign_in("dan"))["access_token"]
    assert (await api.client.get(ME, headers=bearer(dan))).status_code == 200  # now cached
    changed = await api.client.patch(
        f"{members}/{added.json()['user_id']}", headers=bearer(owner), json={"role": "developer"}
    )
    assert changed.status_code == 200
    # counted around dan's request alone (the owner's own request may miss once its entry aged out)
    misses = await counter(api, "misses", "access_token")
    assert (await api.client.get(ME, headers=bearer(dan))).status_code == 200
    assert await counter(api, "misses", "access_token") == misses + 1  # checked again, not cached


async def test_the_cache_can_be_switched_off(make_api: object) -> None:
    async with make_api(principal_cache_enabled=False) as api:  # type: ignore[operator]
        root = await api.root_token()
        assert api.container.iam.principal_caches is None
        assert (await api.client.get(ME, headers=bearer(root))).status_code == 200
        assert await counter(api, "hits", "access_token") == 0
