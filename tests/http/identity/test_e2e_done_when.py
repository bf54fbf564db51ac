"""The issue's "done when", end to end through the HTTP API.

A tenant admin signs in with TOTP, creates an API key with two scopes, uses it, gets rate-limited,
revokes it (then it is refused), finds all of that in the audit log, and a second tenant sees none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.http.identity.conftest import PASSWORD, Api, bearer
from tests.http.identity.test_auth_routes import _problem


async def _tenant(api: Api, root: str, name: str, plan: str) -> str:
    created = await api.client.post(
        "/api/v1/tenants", headers=bearer(root), json={"name": name, "plan": plan}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_done_when(make_api: Callable[..., Any]) -> None:
    async with make_api(rate_limit_plans={"small": {"general": "5/minute"}}) as api:
        root = await api.root_token()
        acme = await _tenant(api, root, "acme", "small")
        globex = await _tenant(api, root, "globex", "default")
        for tenant, user in ((acme, "alice"), (globex, "gina")):
            added = await api.client.post(
                f"/api/v1/tenants/{tenant}/members",
                headers=bearer(root),
                json={"username": user, "role": "admin", "password": PASSWORD},
            )
            assert added.status_code == 201

        # 1. the tenant admin must enrol TOTP, then signs in with it
        limited = await api.sign_in("alice")
        assert limited["mfa_enrollment_required"]
        secret = await api.enrol("alice")
        _problem(await api.token("alice", PASSWORD), 401, "mfa-required")
        alice = (await api.sign_in("alice", totp=secret))["access_token"]

        # 2. an API key with two scopes
        created = await api.client.post(
            f"/api/v1/tenants/{acme}/api-keys",
            headers=bearer(alice),
            json={"name": "backend", "scopes": ["audit:read", "members:read"]},
        )
        assert created.status_code == 201
        key, key_id = created.json()["key"], created.json()["id"]

        # 3. used, until the tenant plan's tiny limit refuses it
        statuses = []
        for _ in range(6):
            response = await api.client.get(f"/api/v1/tenants/{acme}/members", headers=bearer(key))
            statuses.append(response.status_code)
        assert statuses == [200] * 5 + [429]
        assert int(response.headers["retry-after"]) >= 1
        # ... and its scopes are all it has
        _problem(
            await api.client.get(f"/api/v1/tenants/{acme}/api-keys", headers=bearer(key)),
            403,
            "missing-scope",
        )

        # 4. revoked, then refused
        revoked = await api.client.delete(f"/api/v1/tenants/{acme}/api-keys/{key_id}", headers=bearer(alice))
        assert revoked.status_code == 200
        _problem(
            await api.client.get(f"/api/v1/tenants/{acme}/members", headers=bearer(key)),
            401,
            "invalid-api-key",
        )

        # 5. all of it is in acme's audit log
        log = (await api.client.get("/api/v1/audit?limit=200", headers=bearer(alice))).json()["entries"]
        seen = {(e["action"], e["outcome"]) for e in log}
        assert {
            ("auth.login", "success"),
            ("mfa.totp_enroll", "success"),
            ("mfa.totp_enabled", "success"),
            ("apikey.create", "success"),
            ("ratelimit.exceeded", "denied"),
            ("apikey.revoke", "success"),
            ("apikey.refused", "denied"),
        } <= seen
        key_events = [e for e in log if key_id in e["target"] or key_id in e["actor"]]
        assert {e["action"] for e in key_events} >= {"apikey.create", "ratelimit.exceeded", "apikey.revoke"}
        assert all(e["client_ip"] == "203.0.113.9" and e["request_id"] for e in key_events)
        assert key not in str(log)
        reports = await api.container.iam.audit.verify(acme)
        assert reports[0].broken is None
        assert reports[0].entries == len(log)

        # 6. the second tenant sees none of it
        gina = (await api.sign_in("gina"))["access_token"]  # limited token: gina has not enrolled yet
        _problem(await api.client.get("/api/v1/audit", headers=bearer(gina)), 403, "missing-scope")
        gina_secret = await api.enrol("gina")
        gina = (await api.sign_in("gina", totp=gina_secret))["access_token"]
        theirs = (await api.client.get("/api/v1/audit?limit=200", headers=bearer(gina))).json()
        assert theirs["tenant"] == globex
        assert key_id not in str(theirs)
        assert "alice" not in str(theirs)
        assert not {e["action"] for e in theirs["entries"]} & {
            "apikey.create",
            "apikey.revoke",
            "ratelimit.exceeded",
        }
        _problem(
            await api.client.get(f"/api/v1/tenants/{acme}/api-keys", headers=bearer(gina)),
            403,
            "wrong-tenant",
        )
