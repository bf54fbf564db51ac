"""Webhook deliveries to a real receiver on 127.0.0.1 that checks every Standard Webhooks signature:
retries, 410 Gone, dead letters and replay, order per subscription, once per (subscription, event)
with two workers, and a slow endpoint that does not hold the others."""

from __future__ import annotations

import asyncio

import pytest

from neo_service_layer.services.secrets.api import InvalidSourceAddress, SourceUrlPolicy
from neo_service_layer.services.subscriptions.adapters.sender import GuardedPoster
from tests.http.subscriptions.conftest import Api, Receiver

LOCAL = SourceUrlPolicy.of(["127.0.0.1"], allow_http=True)


async def _deliveries(api: Api, tenant: object, sub_id: str, query: str = "") -> list[dict[str, object]]:
    answer = await tenant.call("GET", f"/{sub_id}/deliveries{query}")  # type: ignore[attr-defined]
    assert answer.status_code == 200, answer.text
    return answer.json()["deliveries"]  # type: ignore[no-any-return]


async def test_signed_delivery_and_a_flaky_endpoint_retried(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    ok_id, ok_secret = await acme.subscribe(["automation.*"], f"{receiver.base}/a/ok")
    flaky_id, flaky_secret = await acme.subscribe(["automation.run.failed"], f"{receiver.base}/b/flaky")
    assert ok_secret
    assert flaky_secret
    receiver.secrets = {"/a/ok": ok_secret, "/b/flaky": flaky_secret}
    one, two, _ = await acme.publish("automation.run.delivered", "automation.run.failed", "audit.security")
    relay, sender = api.worker()
    await api.round(relay, sender)
    await api.round(relay, sender)  # the ok endpoint's second event (one at a time per subscription)
    assert receiver.ids("/a/ok") == [one, two]
    assert receiver.ids("/b/flaky") == [two]  # its first attempt answered 500
    assert receiver.ids("/a/ok", verified=False) == []
    [pending] = await _deliveries(api, acme, flaky_id)
    assert pending["status"] == "pending"
    assert pending["attempts"] == 1
    assert pending["lastStatus"] == 500
    assert pending["nextAttemptAt"] is not None
    await api.round(relay, sender)
    assert receiver.ids("/b/flaky") == [two]  # not before its retry time
    api.clock.advance(seconds=6)  # past the first retry's cap (5 s)
    await api.round(relay, sender)
    assert receiver.ids("/b/flaky") == [two, two]  # same webhook-id on the retry
    [done] = await _deliveries(api, acme, flaky_id)
    assert done["status"] == "delivered"
    assert done["attempts"] == 2
    counts = (await acme.call("GET", f"/{ok_id}")).json()["counts"]
    assert counts == {"delivered": 2}


async def test_gone_disables_and_resume_sends_in_order(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    sub_id, secret = await acme.subscribe(["*"], f"{receiver.base}/c/gone")
    assert secret
    receiver.secrets = {"/c/gone": secret, "/c/ok": secret}
    first, second = await acme.publish("audit.security", "audit.security")
    relay, sender = api.worker()
    await api.round(relay, sender)
    sub = (await acme.call("GET", f"/{sub_id}")).json()
    assert sub["state"] == "disabled"
    assert "410" in sub["reason"]
    await api.round(relay, sender)
    api.clock.advance(hours=1)
    await api.round(relay, sender)
    assert receiver.ids("/c/gone") == [first]  # nothing more is sent to a disabled subscription
    assert [d["status"] for d in await _deliveries(api, acme, sub_id)] == ["pending", "pending"]
    receiver.gone = False
    resumed = await acme.call("POST", f"/{sub_id}/resume")
    assert resumed.json()["state"] == "active"
    assert resumed.json()["reason"] is None
    for _ in range(2):
        await api.round(relay, sender)
    assert receiver.ids("/c/gone") == [first, first, second]
    assert [d["status"] for d in await _deliveries(api, acme, sub_id)] == ["delivered", "delivered"]


async def test_dead_letter_after_three_days_and_replay(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    sub_id, secret = await acme.subscribe(["audit.security"], f"{receiver.base}/d/fail")
    assert secret
    receiver.secrets = {"/d/fail": secret}
    [first] = await acme.publish("audit.security")
    relay, sender = api.worker()
    for _ in range(12):  # every retry is due within 14 h
        await api.round(relay, sender)
        api.clock.advance(hours=14)
    [dead] = await _deliveries(api, acme, sub_id, "?status=dead")
    assert str(dead["eventId"]) == first
    assert dead["status"] == "dead"
    assert dead["lastStatus"] == 500
    attempts = dead["attempts"]
    assert isinstance(attempts, int)
    assert attempts >= 6
    assert len(receiver.ids("/d/fail")) == attempts
    # a dead letter does not block later events
    receiver.failing = False
    [second] = await acme.publish("audit.security")
    await api.round(relay, sender)
    assert receiver.ids("/d/fail")[-1] == second
    missing = await acme.call("POST", f"/{sub_id}/deliveries/{second}/replay")
    assert missing.status_code == 404  # delivered, not dead
    replayed = await acme.call("POST", f"/{sub_id}/deliveries/{first}/replay")
    assert replayed.status_code == 202
    await api.round(relay, sender)
    assert receiver.ids("/d/fail")[-1] == first
    statuses = {str(d["eventId"]): d["status"] for d in await _deliveries(api, acme, sub_id)}
    assert statuses == {first: "delivered", second: "delivered"}


async def test_order_per_subscription_while_retrying(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    _sub_id, secret = await acme.subscribe(["audit.security"], f"{receiver.base}/e/fail")
    assert secret
    receiver.secrets = {"/e/fail": secret}
    a, b, c = await acme.publish("audit.security", "audit.security", "audit.security")
    relay, sender = api.worker()
    await api.round(relay, sender)
    api.clock.advance(seconds=6)
    await api.round(relay, sender)
    assert receiver.ids("/e/fail") == [a, a]  # 2 and 3 wait while 1 is retried
    receiver.failing = False
    for _ in range(5):
        api.clock.advance(minutes=6)
        await api.round(relay, sender)
    assert receiver.ids("/e/fail") == [a, a, a, b, c]


async def test_exactly_once_per_subscription_and_event_with_two_workers(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    paths = ["/f/ok", "/g/ok", "/h/ok"]
    for path in paths:
        _, secret = await acme.subscribe(["*"], f"{receiver.base}{path}")
        assert secret
        receiver.secrets[path] = secret
    ids = await acme.publish(*["automation.run.failed"] * 10)
    one, two = api.worker("w1"), api.worker("w2")
    for _ in range(12):
        await asyncio.gather(api.round(*one), api.round(*two))
    ids += await acme.publish(*["audit.security"] * 5)
    for _ in range(8):
        await asyncio.gather(api.round(*one), api.round(*two))
    for path in paths:
        assert receiver.ids(path) == ids, path  # each once, in order
    assert all(ok for _, _, ok in receiver.hits)


async def test_a_slow_endpoint_does_not_hold_the_others(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    _, slow = await acme.subscribe(["*"], f"{receiver.base}/i/slow")
    _, quick = await acme.subscribe(["*"], f"{receiver.base}/j/ok")
    assert slow
    assert quick
    receiver.secrets = {"/i/slow": slow, "/j/ok": quick}
    ids = await acme.publish("audit.security", "audit.security")
    relay, sender = api.worker()
    await relay.run_once()
    assert await sender.run_once() == 2
    await receiver.entered.wait()
    # the quick one finishes and its next event goes while the slow one hangs (the timeout only guards
    # against a hang: the slow endpoint answers only once released)
    async with asyncio.timeout(60):
        while receiver.ids("/j/ok") != ids:
            await asyncio.sleep(0.05)
            await sender.run_once()
    assert receiver.ids("/i/slow") == [ids[0]]
    assert not receiver.release.is_set()
    assert sender.in_flight >= 1
    receiver.release.set()
    await sender.drain()
    await api.round(relay, sender)
    assert receiver.ids("/i/slow") == ids


async def test_a_stopping_worker_finishes_the_attempt_in_flight_and_starts_nothing(
    api: Api, receiver: Receiver
) -> None:
    acme = await api.tenant("acme")
    sub_id, slow = await acme.subscribe(["*"], f"{receiver.base}/i/slow")
    assert slow
    receiver.secrets = {"/i/slow": slow}
    first, second = await acme.publish("audit.security", "audit.security")
    relay, sender = api.worker()
    await relay.run_once()
    assert await sender.run_once() == 1
    await receiver.entered.wait()  # the first event's POST is at the endpoint, unanswered
    closing = asyncio.create_task(sender.close())
    await asyncio.sleep(0.2)
    assert not closing.done()  # it waits for the attempt: a POST cut off could have arrived
    receiver.release.set()
    async with asyncio.timeout(60):  # a hang guard only
        await closing
    assert receiver.ids("/i/slow") == [first]  # the second event was not started
    assert await sender.run_once() == 0
    rows = {str(d["eventId"]): d["status"] for d in await _deliveries(api, acme, sub_id)}
    assert rows == {first: "delivered", second: "pending"}


async def test_the_ssrf_guard_holds_at_each_delivery(receiver: Receiver) -> None:
    """Without the operator's allowance a loopback receiver is never reached, and redirects are not
    followed (checked at each attempt, not only at creation: DNS may change)."""
    for policy in (
        SourceUrlPolicy(),
        SourceUrlPolicy.of(["127.0.0.1"]),
        SourceUrlPolicy.of([], allow_http=True),
    ):
        sent = await GuardedPoster(policy).post(f"{receiver.base}/x/ok", b"{}", {})
        assert sent.status is None
        assert sent.error is not None
        assert sent.error.startswith("refused by the SSRF guard")
    assert receiver.hits == []
    for url in ("https://10.1.2.3/h", "https://169.254.169.254/", "https://[::1]/h"):
        with pytest.raises(InvalidSourceAddress):
            await GuardedPoster(LOCAL).check(url)
