"""The two sources write their events in the producer's own transaction: a tenant job's run that was
delivered or failed, and security entries of the tenant's audit log; a rolled-back producer leaves no
event and no used id. Ids are the tenant's, in order, without gaps."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from neo_service_layer.kernel.events.adapters import publish, tenant_event_heads, tenant_events
from neo_service_layer.kernel.events.rules import TenantEvent
from neo_service_layer.kernel.identity.rules.audit import AuditQuery, AuditRecord, Outcome
from neo_service_layer.services.automation.service import tenant_job_runner
from neo_service_layer.services.subscriptions.adapters.tables import subscriptions
from tests.http.events_support import outbox_of
from tests.http.subscriptions.conftest import Api, Receiver, Tenant


async def _events(tenant: Tenant) -> list[tuple[int, str, dict[str, object]]]:
    return await outbox_of(tenant.container, tenant.id)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_audit_security_entries_publish_with_the_entry(api: Api) -> None:
    acme = await api.tenant("acme")
    audit = api.container.iam.audit_log
    before = await _events(acme)
    await audit.record(
        AuditRecord(tenant_id=acme.id, actor="usr_x", action="member.remove", outcome=Outcome.SUCCESS)
    )
    await audit.record(
        AuditRecord(tenant_id=acme.id, actor="usr_x", action="secret.access", outcome=Outcome.SUCCESS)
    )
    await audit.record(
        AuditRecord(tenant_id=acme.id, actor="usr_x", action="auth.login", outcome=Outcome.FAILURE)
    )
    after = await _events(acme)
    new = after[len(before) :]
    assert [(t, d["action"], d["outcome"]) for _, t, d in new] == [
        ("audit.security", "member.remove", "success"),
        ("audit.security", "auth.login", "failure"),
    ]
    ids = [i for i, _, _ in after]
    assert ids == list(range(1, len(ids) + 1))  # the tenant's ids: in order, no gaps
    page = await audit.page(AuditQuery(tenant_id=acme.id, limit=5))
    seqs = {e.seq for e in page.entries if e.action in ("member.remove", "auth.login")}
    assert {d["auditSeq"] for _, _, d in new} == seqs


async def test_a_rolled_back_producer_publishes_nothing(api: Api) -> None:
    acme = await api.tenant("acme")
    engine = api.container.engine
    [first] = await acme.publish("audit.security")

    async def failing_producer() -> None:
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": acme.id})
            now = datetime.now(UTC)
            await publish(conn, [TenantEvent(acme.id, "audit.security", now, {"lost": True})])
            raise RuntimeError("the producer fails after publishing")

    with pytest.raises(RuntimeError):
        await failing_producer()
    assert [i for i, _, _ in await _events(acme)][-1] == int(first)
    async with engine.connect() as conn:
        head = (
            await conn.execute(
                select(tenant_event_heads.c.event_id).where(tenant_event_heads.c.tenant_id == acme.id)
            )
        ).scalar()
    assert head == int(first)  # no id was used up: the next event follows without a gap
    [second] = await acme.publish("audit.security")
    assert int(second) == int(first) + 1


async def test_tenant_job_runs_publish_delivered_and_failed(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    key = await acme.key()
    headers = {"authorization": f"Bearer {key}"}
    sub_id, secret = await acme.subscribe(["automation.*"], f"{receiver.base}/k/ok")
    assert secret
    receiver.secrets = {"/k/ok": secret}
    jobs = "/api/v1/automation/jobs"
    good = {
        "name": "good",
        "trigger": {"everySeconds": 60},
        "action": {"webhook": {"url": f"{receiver.base}/plain/job", "data": {}}},
    }
    bad = {
        "name": "bad",
        "trigger": {"everySeconds": 60},
        "action": {"webhook": {"url": f"http://127.0.0.1:{_closed_port()}/hook", "data": {}}},
    }
    good_job = (await api.client.post(jobs, json=good, headers=headers)).json()["job"]["jobId"]
    bad_job = (await api.client.post(jobs, json=bad, headers=headers)).json()["job"]["jobId"]
    runner = tenant_job_runner(api.container)
    for _ in range(3):  # the failing job gives up after its third attempt
        api.clock.advance(seconds=61)
        await runner.run_once()
    await runner.close()
    events = [(t, d) for _, t, d in await _events(acme) if t.startswith("automation.")]
    delivered = [d for t, d in events if t == "automation.run.delivered"]
    failed = [d for t, d in events if t == "automation.run.failed"]
    assert delivered
    assert all(d["jobId"] == good_job for d in delivered)
    assert failed
    assert all(d["jobId"] == bad_job for d in failed)
    assert failed[0]["status"] == "failed"
    assert "reason" in failed[0]
    relay, sender = api.worker()
    for _ in range(len(events) + 1):
        await api.round(relay, sender)
    assert len(receiver.ids("/k/ok")) == len(events)
    counts = (await acme.call("GET", f"/{sub_id}")).json()["counts"]
    assert counts == {"delivered": len(events)}


async def test_row_level_security_keeps_each_tenants_events_and_subscriptions(api: Api) -> None:
    """On PostgreSQL as the application role, a transaction scoped to one tenant (or to none) reads no
    event or subscription of another (the API's own filters aside)."""
    if api.container.engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    acme = await api.tenant("acme")
    other = await api.tenant("other")
    await acme.subscribe(["*"])
    await acme.publish("audit.security")
    assert await _events(acme)
    engine = api.container.engine
    for scope in (other.id, ""):
        async with engine.begin() as conn:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": scope})
            seen = (
                await conn.execute(
                    select(tenant_events.c.tenant_id).where(tenant_events.c.tenant_id == acme.id)
                )
            ).all()
            assert seen == []
            seen_subs = (
                await conn.execute(
                    select(subscriptions.c.tenant_id).where(subscriptions.c.tenant_id == acme.id)
                )
            ).all()
            assert seen_subs == []
