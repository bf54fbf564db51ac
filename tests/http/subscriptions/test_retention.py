"""The clean-up deletes delivered and dead deliveries and fanned-out events past the retention, and
keeps what is still needed: a pending delivery's event (and every later one), events the relay has not
fanned out yet, and anything younger than the retention."""

from __future__ import annotations

from sqlalchemy import func, select, text

from neo_service_layer.kernel.events.adapters import tenant_events
from neo_service_layer.services.subscriptions.adapters.retention_store import SqlEventJanitor
from neo_service_layer.services.subscriptions.adapters.tables import subscription_deliveries
from neo_service_layer.services.subscriptions.use_cases.retention import EventRetention
from tests.http.subscriptions.conftest import Api, Receiver, Tenant


async def _kept(tenant: Tenant) -> tuple[list[int], int]:
    """(the tenant's event ids kept, its delivery rows)."""
    engine = tenant.container.engine
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant.id})
        ids = (
            await conn.execute(
                select(tenant_events.c.event_id)
                .where(tenant_events.c.tenant_id == tenant.id)
                .order_by(tenant_events.c.event_id)
            )
        ).scalars()
        kept = [int(i) for i in ids]
        rows = (
            await conn.execute(select(func.count()).where(subscription_deliveries.c.tenant_id == tenant.id))
        ).scalar()
    return kept, int(rows or 0)


async def test_old_finished_work_goes_and_needed_events_stay(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    ok_id, ok_secret = await acme.subscribe(["audit.*"], f"{receiver.base}/a/ok")
    held_id, held_secret = await acme.subscribe(["audit.*"], f"{receiver.base}/h/ok")
    assert ok_secret
    assert held_secret
    receiver.secrets = {"/a/ok": ok_secret, "/h/ok": held_secret}
    assert (await acme.call("POST", f"/{held_id}/pause")).status_code == 200
    retention = EventRetention(SqlEventJanitor(api.container.engine), api.clock, retention_days=30, batch=2)
    relay, sender = api.worker()
    earlier, _ = await _kept(acme)  # the API key's creation (a security event) came before them
    assert earlier
    first = [int(i) for i in await acme.publish("audit.security", "audit.security", "audit.security")]
    await api.round(relay, sender)
    assert len(receiver.ids("/a/ok")) == 3
    api.clock.advance(days=31)
    # the earlier events (fanned out, no delivery) go; the paused subscription's pending rows keep its
    assert await retention.run_once() == (3, len(earlier))
    kept, rows = await _kept(acme)
    assert (kept, rows) == (first, 3)

    assert (await acme.call("POST", f"/{held_id}/resume")).status_code == 200
    for _ in range(3):
        await api.round(relay, sender)
    assert len(receiver.ids("/h/ok")) == 3
    [unrelayed] = [int(i) for i in await acme.publish("audit.security")]  # not fanned out yet
    api.clock.advance(days=29)
    assert await retention.run_once() == (0, 0)  # delivered 29 days ago: kept for another day
    api.clock.advance(days=40)
    assert await retention.run_once() == (3, 3)
    kept, rows = await _kept(acme)
    assert (kept, rows) == ([unrelayed], 0)  # occurred long ago, but the relay has not seen it
    await api.round(relay, sender)
    assert len(receiver.ids("/a/ok")) == 4
    shown = await acme.call("GET", f"/{ok_id}")
    assert shown.json()["counts"] == {"delivered": 1}
