"""Tenants and members: superadmin creates, owners/admins manage, roles change audited, 403 across tenants."""

from __future__ import annotations

from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem


async def test_only_a_superadmin_creates_and_lists_tenants(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    listed = await api.client.get("/api/v1/tenants", headers=bearer(root))
    assert "acme" in [t["name"] for t in listed.json()]
    _problem(
        await api.client.post("/api/v1/tenants", headers=bearer(owner), json={"name": "x1"}),
        403,
        "missing-scope",
    )
    _problem(await api.client.get("/api/v1/tenants", headers=bearer(owner)), 403, "missing-scope")
    dup = await api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": "acme"})
    _problem(dup, 409, "already-exists")
    bad = await api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": "Not Valid!"})
    _problem(bad, 422, "invalid-input")
    got = await api.client.get(f"/api/v1/tenants/{tenant_id}", headers=bearer(owner))
    assert got.json()["name"] == "acme"
    _problem(
        await api.client.get("/api/v1/tenants/ten_missing", headers=bearer(root)), 404, "tenant-not-found"
    )


async def test_members_roles_and_their_limits(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    base = f"/api/v1/tenants/{tenant_id}/members"
    added = await api.client.post(
        base, headers=bearer(owner), json={"username": "bob", "role": "developer", "password": PASSWORD}
    )
    assert added.status_code == 201
    bob_id = added.json()["user_id"]
    weak = await api.client.post(
        base, headers=bearer(owner), json={"username": "carol", "role": "viewer", "password": "password1234"}
    )
    _problem(weak, 422, "weak-password")
    members = (await api.client.get(base, headers=bearer(owner))).json()
    assert {(m["username"], m["role"]) for m in members} == {("alice", "owner"), ("bob", "developer")}
    changed = await api.client.patch(f"{base}/{bob_id}", headers=bearer(owner), json={"role": "admin"})
    assert changed.json()["role"] == "admin"
    # bob (admin now) may not make anyone an owner
    bob_secret = await api.enrol("bob")
    bob = (await api.sign_in("bob", totp=bob_secret))["access_token"]
    alice_id = next(m["user_id"] for m in members if m["username"] == "alice")
    _problem(
        await api.client.patch(f"{base}/{bob_id}", headers=bearer(bob), json={"role": "owner"}),
        403,
        "role-change-denied",
    )
    # the last owner stays
    _problem(
        await api.client.patch(f"{base}/{alice_id}", headers=bearer(owner), json={"role": "admin"}),
        409,
        "last-owner",
    )
    # a developer cannot manage members but can read them
    dave = await api.client.post(
        base, headers=bearer(owner), json={"username": "dave", "role": "developer", "password": PASSWORD}
    )
    dave_token = (await api.sign_in("dave"))["access_token"]
    assert (await api.client.get(base, headers=bearer(dave_token))).status_code == 200
    _problem(await api.client.delete(f"{base}/{bob_id}", headers=bearer(dave_token)), 403, "missing-scope")
    removed = await api.client.delete(f"{base}/{dave.json()['user_id']}", headers=bearer(owner))
    assert removed.status_code == 204
    _problem(
        await api.client.delete(f"{base}/{dave.json()['user_id']}", headers=bearer(owner)),
        404,
        "member-not-found",
    )
    audit = (await api.client.get("/api/v1/audit?action=member.role_change", headers=bearer(owner))).json()
    assert audit["entries"][0]["details"] == {"from": "developer", "to": "admin"}


async def test_another_tenants_id_in_the_path_is_403(api: Api, root: str) -> None:
    acme, alice, _ = await api.tenant_with_owner(root, "acme", "alice")
    globex, _, _ = await api.tenant_with_owner(root, "globex", "gina")
    for method, path in (
        ("GET", f"/api/v1/tenants/{globex}"),
        ("GET", f"/api/v1/tenants/{globex}/members"),
        ("POST", f"/api/v1/tenants/{globex}/members"),
        ("GET", f"/api/v1/tenants/{globex}/api-keys"),
    ):
        body = {"username": "mallory", "role": "owner", "password": PASSWORD} if method == "POST" else None
        response = await api.client.request(method, path, headers=bearer(alice), json=body)
        _problem(response, 403, "wrong-tenant")
    # the superadmin may administer any tenant
    assert (
        await api.client.get(f"/api/v1/tenants/{globex}/members", headers=bearer(root))
    ).status_code == 200
    assert acme != globex
