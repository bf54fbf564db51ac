"""The on-chain request source: a subscription watching a consumer contract hears its requests seen,
fulfilled, delivered or failed, from the transaction that moved them; a tenant hears each transition
once, only for the consumers it watches, and each subscription only for its own filter."""

from __future__ import annotations

from typing import Any

from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.rules import ChainEventKind, NewRequest, RequestUpdate
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.rules import RandomnessParams
from tests.http.events_support import outbox_of
from tests.http.subscriptions.conftest import Api, Receiver, Tenant

WATCHED, OTHER = "0x" + "ab" * 20, "0x" + "cd" * 20
CONTRACT = "0x" + "11" * 20
TX = "0x" + "aa" * 32


async def _events(tenant: Tenant) -> list[tuple[str, dict[str, Any]]]:
    return [(t, d) for _, t, d in await outbox_of(tenant.container, tenant.id) if t.startswith("request.")]


async def _watch(tenant: Tenant, consumer: str, url: str | None = None, **extra: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {"webhook": {"url": url}} if url else {"stream": {}}
    source = {"types": ["request.*"], "requests": {"consumer": consumer, **extra}}
    answer = await tenant.call("POST", "", json={"name": "r", "source": source, "channel": channel})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _new(request_id: int, consumer: str, block: int) -> NewRequest[RandomnessParams]:
    return NewRequest(request_id, consumer, RandomnessParams(1, bytes([request_id]) * 32), block, TX)


async def test_a_request_filter_is_validated_and_shown(api: Api) -> None:
    acme = await api.tenant("acme")
    created = await _watch(acme, WATCHED.upper().replace("0X", "0x"), service="randomness")
    assert created["subscription"]["source"]["requests"] == {"consumer": WATCHED, "service": "randomness"}
    refused = [
        ({"types": ["automation.*"], "requests": {"consumer": WATCHED}}, "invalid-request-filter"),
        ({"types": ["*"], "requests": {"consumer": WATCHED}}, "invalid-request-filter"),
        ({"types": ["request.*"], "requests": {"consumer": "0x12"}}, None),
        ({"types": ["request.*"], "requests": {"consumer": WATCHED, "service": "feeds"}}, None),
        ({"types": ["request.*"], "requests": {"consumer": WATCHED, "extra": 1}}, None),
    ]
    for source, code in refused:
        answer = await acme.call("POST", "", json={"name": "r", "source": source, "channel": {"stream": {}}})
        assert answer.status_code == 422, (source, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        if code is not None:
            assert answer.json()["type"].endswith(code)


async def test_transitions_of_a_watched_consumer_publish_once_to_each_watching_tenant(api: Api) -> None:
    acme, other = await api.tenant("acme"), await api.tenant("other")
    await _watch(acme, WATCHED)
    await _watch(acme, WATCHED, service="randomness")  # two subscriptions: still one event per transition
    await _watch(other, WATCHED, service="oracle")  # another service's requests only
    store = SqlRequestStore(api.container.engine, RandomnessPayloads())
    now = api.clock.now()
    new = [_new(1, WATCHED, 5), _new(2, OTHER, 5)]
    for _ in range(2):  # a second watcher reads the same block: nothing moves, nothing is published
        await store.apply_block("c", "randomness", CONTRACT, 5, None, new, [], now)
    fulfilled = "0x" + "bb" * 32
    updates = [RequestUpdate(i, ChainEventKind.FULFILLED, 6, fulfilled) for i in (1, 2)]
    updates += [RequestUpdate(1, ChainEventKind.CALLBACK_FAILED, 6, fulfilled, "consumer faulted: boom")]
    await store.apply_block("c", "randomness", CONTRACT, 6, None, [], updates, now)
    events = await _events(acme)
    assert [t for t, _ in events] == ["request.seen", "request.fulfilled", "request.callback_failed"]
    assert {d["requestId"] for _, d in events} == {1}  # the unwatched consumer's request is not heard
    seen, done, failed = (d for _, d in events)
    assert seen == {
        "service": "randomness",
        "contract": CONTRACT,
        "requestId": 1,
        "consumer": WATCHED,
        "status": "seen",
        "requestBlock": 5,
        "block": 5,
        "txHash": TX,
    }
    assert (done["status"], done["block"], done["txHash"]) == ("fulfilled", 6, fulfilled)
    assert failed["reason"] == "consumer faulted: boom"
    assert await _events(other) == []  # it watches the oracle's requests of that consumer only


async def test_a_failed_dry_run_publishes_the_reason(api: Api) -> None:
    acme = await api.tenant("acme")
    await _watch(acme, WATCHED)
    store = SqlRequestStore(api.container.engine, RandomnessPayloads())
    now = api.clock.now()
    await store.apply_block("c", "randomness", CONTRACT, 5, None, [_new(1, WATCHED, 5)], [], now)
    [claimed] = await store.claim("randomness", CONTRACT, "w1", now, now, 10)
    assert await store.mark_failed("randomness", CONTRACT, "w1", claimed.request_id, "FAULT: no GAS", now)
    assert not await store.mark_failed("randomness", CONTRACT, "w1", 1, "again", now)  # moved once
    events = await _events(acme)
    assert [(t, d.get("reason")) for t, d in events] == [
        ("request.seen", None),
        ("request.failed", "FAULT: no GAS"),
    ]


async def test_each_subscription_gets_the_events_of_its_own_filter(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    watched = await _watch(acme, WATCHED, f"{receiver.base}/w/ok")
    other = await _watch(acme, OTHER, f"{receiver.base}/o/ok")
    receiver.secrets = {"/w/ok": watched["webhookSecret"], "/o/ok": other["webhookSecret"]}
    everything, secret = await acme.subscribe(["request.*"], f"{receiver.base}/a/ok")
    assert secret is not None
    receiver.secrets["/a/ok"] = secret
    store = SqlRequestStore(api.container.engine, RandomnessPayloads())
    now = api.clock.now()
    await store.apply_block(
        "c", "randomness", CONTRACT, 5, None, [_new(1, WATCHED, 5), _new(2, OTHER, 5)], [], now
    )
    relay, sender = api.worker()
    for _ in range(3):
        await api.round(relay, sender)
    assert len(receiver.ids("/w/ok")) == 1
    assert len(receiver.ids("/o/ok")) == 1
    assert len(receiver.ids("/a/ok")) == 2  # no filter: every request event the tenant has
    assert sorted(receiver.ids("/w/ok") + receiver.ids("/o/ok")) == sorted(receiver.ids("/a/ok"))
    for created in (watched, other):
        shown = await acme.call("GET", f"/{created['subscription']['subscriptionId']}")
        assert shown.json()["counts"].get("delivered") == 1
    shown = await acme.call("GET", f"/{everything}")
    assert shown.json()["counts"].get("delivered") == 2
