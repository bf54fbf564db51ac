"""API keys: created with a subset of the creator's scopes, shown once, used, listed, revoked."""

from __future__ import annotations

from datetime import timedelta

from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem


async def test_create_use_list_and_revoke(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    base = f"/api/v1/tenants/{tenant_id}/api-keys"
    created = await api.client.post(
        base, headers=bearer(owner), json={"name": "ci", "scopes": ["audit:read", "members:read"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith(f"nsl_{body['prefix']}_")
    assert body["scopes"] == ["audit:read", "members:read"]
    me = (await api.client.get("/api/v1/auth/me", headers=bearer(key))).json()
    assert me == {
        "tenant": tenant_id,
        "subject": body["id"],
        "kind": "api_key",
        "roles": [],
        "scopes": ["audit:read", "members:read"],
    }
    assert (
        await api.client.get(f"/api/v1/tenants/{tenant_id}/members", headers=bearer(key))
    ).status_code == 200
    # a key holds only its scopes
    _problem(await api.client.get(base, headers=bearer(key)), 403, "missing-scope")
    _problem(await api.client.post("/api/v1/auth/logout", headers=bearer(key)), 403, "missing-scope")
    listed = (await api.client.get(base, headers=bearer(owner))).json()
    assert [k["prefix"] for k in listed] == [body["prefix"]]
    assert "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    one = await api.client.get(f"{base}/{body['id']}", headers=bearer(owner))
    assert one.json()["name"] == "ci"
    revoked = await api.client.delete(f"{base}/{body['id']}", headers=bearer(owner))
    assert revoked.json()["revoked_at"] is not None
    _problem(await api.client.get("/api/v1/auth/me", headers=bearer(key)), 401, "invalid-api-key")
    _problem(await api.client.delete(f"{base}/key_missing", headers=bearer(owner)), 404, "api-key-not-found")


async def test_scopes_beyond_the_creators_and_unknown_scopes_are_refused(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    base = f"/api/v1/tenants/{tenant_id}/api-keys"
    await api.client.post(
        f"/api/v1/tenants/{tenant_id}/members",
        headers=bearer(owner),
        json={"username": "dev", "role": "developer", "password": PASSWORD},
    )
    dev = (await api.sign_in("dev"))["access_token"]
    ok = await api.client.post(base, headers=bearer(dev), json={"name": "app", "scopes": ["keys:sign"]})
    assert ok.status_code == 201
    beyond = await api.client.post(base, headers=bearer(dev), json={"name": "app", "scopes": ["keys:admin"]})
    _problem(beyond, 403, "scope-not-held")
    unknown = await api.client.post(base, headers=bearer(owner), json={"name": "x", "scopes": ["root:all"]})
    _problem(unknown, 422, "invalid-input")
    # an API key with apikeys:admin can create keys, with a subset of its own scopes only
    admin_key = (
        await api.client.post(
            base,
            headers=bearer(owner),
            json={"name": "provisioner", "scopes": ["apikeys:admin", "keys:read"]},
        )
    ).json()["key"]
    child = await api.client.post(
        base, headers=bearer(admin_key), json={"name": "c", "scopes": ["keys:read"]}
    )
    assert child.status_code == 201
    assert child.json()["created_by"].startswith("api_key:")
    wider = await api.client.post(
        base, headers=bearer(admin_key), json={"name": "c", "scopes": ["keys:sign"]}
    )
    _problem(wider, 403, "scope-not-held")


async def test_expired_keys_are_refused(api: Api, root: str) -> None:
    tenant_id, owner, secret = await api.tenant_with_owner(root, "acme", "alice")
    expires = (api.clock.now() + timedelta(hours=1)).isoformat()
    created = await api.client.post(
        f"/api/v1/tenants/{tenant_id}/api-keys",
        headers=bearer(owner),
        json={"name": "short", "scopes": ["members:read"], "expires_at": expires},
    )
    key = created.json()["key"]
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(key))).status_code == 200
    api.clock.advance(hours=1)
    _problem(await api.client.get("/api/v1/auth/me", headers=bearer(key)), 401, "invalid-api-key")
    owner = (await api.sign_in("alice", totp=secret))["access_token"]
    past = await api.client.post(
        f"/api/v1/tenants/{tenant_id}/api-keys",
        headers=bearer(owner),
        json={"name": "past", "scopes": ["members:read"], "expires_at": "2000-01-01T00:00:00Z"},
    )
    _problem(past, 422, "invalid-input")
