"""A subscription's task goes on after each delivered event: a backlog drains in a few worker rounds,
in event order, while a failure ends the task (the next event waits for the retry)."""

from __future__ import annotations

from tests.http.subscriptions.conftest import Api, Receiver


async def test_a_backlog_of_300_goes_out_in_order_within_two_rounds(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    _, secret = await acme.subscribe(["audit.security"], f"{receiver.base}/t/ok")
    assert secret
    receiver.secrets = {"/t/ok": secret}
    ids = await acme.publish(*["audit.security"] * 300)
    relay, sender = api.worker()
    rounds = 0
    while receiver.ids("/t/ok") != ids and rounds < 5:
        await api.round(relay, sender)
        rounds += 1
    assert receiver.ids("/t/ok") == ids  # each once, in order
    # one event per round before: 300 rounds; now a task sends up to 200 in a row (or 5 s' worth)
    assert rounds <= 3
    assert receiver.ids("/t/ok", verified=False) == []


async def test_a_failure_ends_the_run_and_order_holds(api: Api, receiver: Receiver) -> None:
    acme = await api.tenant("acme")
    _, secret = await acme.subscribe(["audit.security"], f"{receiver.base}/u/fail")
    assert secret
    receiver.secrets = {"/u/fail": secret}
    ids = await acme.publish(*["audit.security"] * 5)
    relay, sender = api.worker()
    await api.round(relay, sender)
    assert receiver.ids("/u/fail") == ids[:1]  # a 500 ends the task: nothing after it goes out
    receiver.failing = False
    api.clock.advance(seconds=6)  # past the first retry's cap
    await api.round(relay, sender)
    assert receiver.ids("/u/fail") == [ids[0], *ids]  # the retry, then the rest in one round
