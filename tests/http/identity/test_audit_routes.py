"""GET /api/v1/audit: the caller tenant's entries, filters, cursor paging, scope."""

from __future__ import annotations

from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem


async def test_filters_and_cursor_paging(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    for i in range(3):
        await api.client.post(
            f"/api/v1/tenants/{tenant_id}/members",
            headers=bearer(owner),
            json={"username": f"user{i}", "role": "viewer", "password": PASSWORD},
        )
    everything = (await api.client.get("/api/v1/audit?limit=200", headers=bearer(owner))).json()
    assert everything["tenant"] == tenant_id
    seqs = [e["seq"] for e in everything["entries"]]
    assert seqs == sorted(seqs, reverse=True)
    assert everything["next_cursor"] is None
    adds = (await api.client.get("/api/v1/audit?action=member.add&limit=2", headers=bearer(owner))).json()
    assert len(adds["entries"]) == 2
    assert adds["next_cursor"]
    rest = (
        await api.client.get(
            f"/api/v1/audit?action=member.add&limit=2&cursor={adds['next_cursor']}", headers=bearer(owner)
        )
    ).json()
    names = [e["details"]["username"] for e in adds["entries"] + rest["entries"]]
    assert names == ["user2", "user1", "user0", "alice"]
    failures = (await api.client.get("/api/v1/audit?outcome=failure", headers=bearer(owner))).json()
    assert all(e["outcome"] == "failure" for e in failures["entries"])
    me = (await api.client.get("/api/v1/auth/me", headers=bearer(owner))).json()
    mine = (await api.client.get(f"/api/v1/audit?actor=user:{me['subject']}", headers=bearer(owner))).json()
    assert {e["actor"] for e in mine["entries"]} == {f"user:{me['subject']}"}
    since = everything["entries"][0]["occurred_at"]
    later = (await api.client.get("/api/v1/audit", params={"since": since}, headers=bearer(owner))).json()
    assert all(e["occurred_at"] >= since for e in later["entries"])
    _problem(await api.client.get("/api/v1/audit?cursor=bogus!", headers=bearer(owner)), 422, "invalid-input")
    _problem(
        await api.client.get("/api/v1/audit?outcome=maybe", headers=bearer(owner)), 422, "validation-error"
    )


async def test_audit_needs_its_scope_and_holds_no_secrets(api: Api, root: str) -> None:
    tenant_id, owner, _ = await api.tenant_with_owner(root, "acme", "alice")
    await api.client.post(
        f"/api/v1/tenants/{tenant_id}/members",
        headers=bearer(owner),
        json={"username": "viewer1", "role": "viewer", "password": PASSWORD},
    )
    viewer = (await api.sign_in("viewer1"))["access_token"]
    _problem(await api.client.get("/api/v1/audit", headers=bearer(viewer)), 403, "missing-scope")
    _problem(await api.client.get("/api/v1/audit"), 401, "unauthenticated")
    text = (await api.client.get("/api/v1/audit?limit=200", headers=bearer(owner))).text
    assert PASSWORD not in text
