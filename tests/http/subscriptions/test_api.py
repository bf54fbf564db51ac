"""``/api/v1/subscriptions`` through the API: create, list, read, pause, resume, rotate and delete; the
edge's validation (422 problems), scopes (403) and tenants; every change audited."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from sqlalchemy import select, text

from neo_service_layer.kernel.identity.rules.audit import AuditQuery
from neo_service_layer.services.subscriptions.adapters.tables import subscriptions
from tests.http.subscriptions.conftest import Api

WEBHOOK = {"webhook": {"url": "http://127.0.0.1:9/hook"}}


def _body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "ops alerts",
        "source": {"types": ["automation.*"]},
        "channel": WEBHOOK,
    }
    body.update(overrides)
    return body


async def test_create_list_read_pause_resume_rotate_delete(api: Api) -> None:
    acme = await api.tenant("acme")
    created = await acme.call("POST", "", json=_body())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["webhookSecret"].startswith("whsec_")
    sub = body["subscription"]
    sub_id = sub["subscriptionId"]
    assert sub["state"] == "active"
    assert sub["channel"] == {"kind": "webhook", "url": "http://127.0.0.1:9/hook", "email": None}
    assert sub["source"] == {"types": ["automation.*"], "chain": None, "requests": None, "transfers": None}
    stream = await acme.call("POST", "", json=_body(channel={"stream": {}}, source={"types": ["*"]}))
    assert stream.status_code == 201
    assert stream.json()["webhookSecret"] is None
    stream_id = stream.json()["subscription"]["subscriptionId"]

    listed = (await acme.call("GET", "")).json()
    assert {s["subscriptionId"] for s in listed["subscriptions"]} == {sub_id, stream_id}
    assert listed["next"] is None
    one = (await acme.call("GET", f"/{sub_id}")).json()
    assert one["counts"] == {}
    assert body["webhookSecret"] not in str(one)
    assert "whsec_" not in str(one)

    assert (await acme.call("POST", f"/{sub_id}/pause")).json()["state"] == "paused"
    assert (await acme.call("POST", f"/{sub_id}/resume")).json()["state"] == "active"

    rotated = await acme.call("POST", f"/{sub_id}/secret/rotate")
    assert rotated.status_code == 200
    new_secret = rotated.json()["webhookSecret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != body["webhookSecret"]
    until = datetime.fromisoformat(rotated.json()["previousSecretValidUntil"])
    hours = (until - datetime.now(UTC)).total_seconds() / 3600
    assert 23.9 < hours <= 24.1
    assert (await acme.call("GET", f"/{sub_id}")).json()["previousSecretValidUntil"] is not None
    no_secret = await acme.call("POST", f"/{stream_id}/secret/rotate")
    assert no_secret.status_code == 409
    assert no_secret.headers["content-type"].startswith("application/problem+json")

    async with api.container.engine.begin() as conn:  # sealed at rest: the secret is not in the row
        if api.container.engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": acme.id})
        row = (
            await conn.execute(select(subscriptions).where(subscriptions.c.subscription_id == sub_id))
        ).one()
    for secret in (body["webhookSecret"], new_secret):
        raw = base64.b64decode(secret.removeprefix("whsec_"))
        for sealed in (row.secret_sealed, row.previous_sealed):
            assert secret.encode() not in sealed
            assert raw not in sealed
    assert (await acme.call("DELETE", f"/{sub_id}")).status_code == 204
    gone = await acme.call("GET", f"/{sub_id}")
    assert gone.status_code == 404
    assert gone.json()["type"].endswith("subscription-not-found")

    audit = await api.container.iam.audit_log.page(AuditQuery(tenant_id=acme.id, limit=50))
    actions = [e.action for e in audit.entries if e.action.startswith("subscriptions.")]
    assert sorted(actions) == sorted(
        [
            "subscriptions.create",
            "subscriptions.create",
            "subscriptions.pause",
            "subscriptions.resume",
            "subscriptions.secret_rotate",
            "subscriptions.delete",
        ]
    )
    created_entry = next(
        e for e in audit.entries if e.target == f"subscription:{sub_id}" and "create" in e.action
    )
    assert created_entry.details["host"] == "127.0.0.1"


async def test_the_edge_refuses_bad_subscriptions(api: Api) -> None:
    acme = await api.tenant("acme")
    bad = [
        _body(source={"types": []}),
        _body(source={"types": ["neox.*"]}),  # matches no event type
        _body(source={"types": ["automation.run.exploded"]}),
        _body(source={"types": ["Automation"]}),
        _body(source={"types": ["automation.*"], "extra": 1}),
        _body(channel={"webhook": {"url": "ftp://example.com/x"}}),
        _body(channel={"webhook": {"url": "https://10.0.0.1/hook"}}),  # the SSRF guard
        _body(channel={"email": {"to": "a@example.com"}}),  # no SMTP server configured (no-smtp)
        _body(channel={}),
        _body(name=""),
    ]
    for body in bad:
        answer = await acme.call("POST", "", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await acme.call("GET", "/sub_nothex")).status_code == 422
    assert (await acme.call("GET", "/sub_0123456789abcdef01234567/deliveries?status=lost")).status_code == 422
    assert (await acme.call("GET", "")).json()["subscriptions"] == []


async def test_scopes_and_tenants(api: Api) -> None:
    acme = await api.tenant("acme")
    other = await api.tenant("other")
    sub_id, _ = await acme.subscribe(["audit.security"])
    reader = await acme.call("POST", "", "subscriptions:read", json=_body())
    assert reader.status_code == 403
    assert (await acme.call("GET", "", "subscriptions:read")).status_code == 200
    assert (await acme.call("GET", "", "automation:read")).status_code == 403
    assert (await acme.call("POST", f"/{sub_id}/pause", "subscriptions:read")).status_code == 403
    assert (await acme.call("GET", f"/{sub_id}/stream", "automation:read")).status_code == 403
    # another tenant sees nothing of it and cannot change it
    assert (await other.call("GET", f"/{sub_id}")).status_code == 404
    assert (await other.call("DELETE", f"/{sub_id}")).status_code == 404
    assert (await other.call("GET", f"/{sub_id}/deliveries")).status_code == 404
    assert (await other.call("GET", "")).json()["subscriptions"] == []
    assert (await acme.call("GET", f"/{sub_id}")).status_code == 200
