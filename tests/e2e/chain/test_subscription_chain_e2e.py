"""The N3 contract notification source of subscriptions on a real neo-go chain: a webhook subscription
to the target contract's ``Ping`` with an argument filter, created over the API, receives each matching
notification once, signed per Standard Webhooks, from the worker's chain scanner, relay and delivery."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.bootstrap import create_app
from neo_service_layer.services.subscriptions.rules.signing import InvalidSignature, verify
from tests.e2e.chain.automation_support import deploy_target
from tests.e2e.chain.stack import InProcessWorker, Stack, call, tenant_api_key, wait_for
from tests.http.appclient import app_client

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    got: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    #: each call's raw headers and body, for the v1a (Ed25519) check
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 checking each call's Standard Webhooks signature."""
    found = Receiver()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(found.secret, dict(request.headers), body, now=int(time.time()))
            valid = True
        except InvalidSignature:
            valid = False
        found.got.append((request.headers.get("webhook-id", ""), json.loads(body), valid))
        found.raw.append((dict(request.headers), body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()


async def test_filtered_notifications_delivered_once_signed(stack: Stack, receiver: Receiver) -> None:
    settings = stack.settings.model_copy(
        update={"oracle_allow_hosts": ["127.0.0.1"], "oracle_allow_http": True}
    )
    target = await deploy_target(stack)
    contract = "0x" + str(target)
    key = await tenant_api_key(stack, "subs-chain-e2e", ["subscriptions:read", "subscriptions:write"])
    headers = {"Authorization": f"Bearer {key}"}
    source = {
        "types": ["chain.notification"],
        "chain": {"contract": contract, "event": "Ping", "filters": [{"index": 0, "value": 1}]},
    }
    body = {"name": "pings", "source": source, "channel": {"webhook": {"url": receiver.url}}}
    async with app_client(create_app(settings)) as client:
        created = await client.post("/api/v1/subscriptions", json=body, headers=headers)
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["webhookSecret"]
        async with InProcessWorker(settings):
            three = await stack.committee.invoke(call(target, "ping", 3))  # Ping(0..2): one matches
            two = await stack.committee.invoke(call(target, "ping", 2))  # Ping(0..1): one matches
            await stack.committee.invoke(call(target, "ping", 1))  # Ping(0): none

            async def delivered() -> bool:
                return len(receiver.got) >= 2

            await wait_for(delivered, 60, "the subscription's webhooks")
            # a later match: once it arrives every earlier block was scanned and delivered (in order)
            later = await stack.committee.invoke(call(target, "ping", 2))

            async def all_delivered() -> bool:
                return len(receiver.got) >= 3

            await wait_for(all_delivered, 60, "the later webhook")
        counts = (
            await client.get(
                f"/api/v1/subscriptions/{created.json()['subscription']['subscriptionId']}", headers=headers
            )
        ).json()["counts"]

    assert [valid for _, _, valid in receiver.got] == [True, True, True]
    assert len({msg_id for msg_id, _, _ in receiver.got}) == 3  # each notification once
    events = [b for _, b, _ in receiver.got]
    assert [e["type"] for e in events] == ["chain.notification"] * 3
    datas = [e["data"] for e in events]
    assert [d["block"] for d in datas] == [b.included_in_block for b in (three, two, later)]
    for data, tx in zip(datas, [three, two, later], strict=True):
        assert data["contract"] == contract.lower()
        assert data["event"] == "Ping"
        assert data["values"] == [1, base64.b64encode(b"ping").decode()]
        assert data["position"] == 1
        assert data["txHash"].lower().removeprefix("0x") == str(tx.tx_hash).lower().removeprefix("0x")
    assert counts == {"delivered": 3}


async def test_a_watched_consumer_s_randomness_requests_are_heard(stack: Stack, receiver: Receiver) -> None:
    """The tenant's randomness results: a subscription watching the dice consumer hears each roll seen,
    fulfilled and delivered to its callback, once each, signed, with the chain's facts."""
    settings = stack.settings.model_copy(
        update={"oracle_allow_hosts": ["127.0.0.1"], "oracle_allow_http": True}
    )
    dice = await stack.deploy_consumer("dice_consumer")
    consumer = "0x" + str(dice)
    key = await tenant_api_key(stack, "subs-requests-e2e", ["subscriptions:read", "subscriptions:write"])
    headers = {"Authorization": f"Bearer {key}"}
    source = {"types": ["request.*"], "requests": {"consumer": consumer, "service": "randomness"}}
    body = {"name": "rolls", "source": source, "channel": {"webhook": {"url": receiver.url}}}
    async with app_client(create_app(settings)) as client:
        created = await client.post("/api/v1/subscriptions", json=body, headers=headers)
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["webhookSecret"]
        async with InProcessWorker(settings):
            first, asked_in = await stack.roll(dice)
            second, _ = await stack.roll(dice)

            async def heard() -> bool:
                return len(receiver.got) >= 6

            await wait_for(heard, 60, "the request events")
    assert all(valid for _, _, valid in receiver.got)
    assert len({msg_id for msg_id, _, _ in receiver.got}) == 6  # each transition once
    by_request: dict[int, list[str]] = {}
    for _, event, _ in receiver.got:
        data = event["data"]
        assert (data["service"], data["consumer"]) == ("randomness", consumer.lower())
        by_request.setdefault(data["requestId"], []).append(event["type"])
    assert by_request == {
        first: ["request.seen", "request.fulfilled", "request.delivered"],
        second: ["request.seen", "request.fulfilled", "request.delivered"],
    }
    seen = next(e["data"] for _, e, _ in receiver.got if e["data"]["requestId"] == first)
    assert seen["requestBlock"] == asked_in


async def test_gas_transfers_to_a_watched_address_are_heard(stack: Stack, receiver: Receiver) -> None:
    """A NEP-17 watch on the real GAS contract: each transfer to the address is heard once, with its
    amount and transaction; a transfer to another address is not."""
    settings = stack.settings.model_copy(
        update={"oracle_allow_hosts": ["127.0.0.1"], "oracle_allow_http": True}
    )
    watched, other = types.UInt160(bytes(range(1, 21))), types.UInt160(bytes(range(21, 41)))
    gas = CONTRACT_HASHES.GAS_TOKEN
    key = await tenant_api_key(stack, "subs-transfers-e2e", ["subscriptions:read", "subscriptions:write"])
    headers = {"Authorization": f"Bearer {key}"}
    transfers = {"asset": f"0x{gas}", "address": f"0x{watched}", "direction": "in"}
    body = {
        "name": "incoming GAS",
        "source": {"types": ["transfer.nep17"], "transfers": transfers},
        "channel": {"webhook": {"url": receiver.url}},
    }
    sender = stack.committee.script_hash
    async with app_client(create_app(settings)) as client:
        created = await client.post("/api/v1/subscriptions", json=body, headers=headers)
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["webhookSecret"]
        async with InProcessWorker(settings):
            first = await stack.committee.invoke(call(gas, "transfer", sender, watched, 12345, None))
            await stack.committee.invoke(call(gas, "transfer", sender, other, 999, None))
            second = await stack.committee.invoke(call(gas, "transfer", sender, watched, 7, None))

            async def heard() -> bool:
                return len(receiver.got) >= 2

            await wait_for(heard, 60, "the transfer events")
            later = await stack.committee.invoke(call(gas, "transfer", sender, watched, 1, None))

            async def heard_later() -> bool:  # once it arrives, the blocks before were all read
                return len(receiver.got) >= 3

            await wait_for(heard_later, 60, "the later transfer")
    assert all(valid for _, _, valid in receiver.got)
    await _assert_v1a(settings, headers, receiver, created.json()["subscription"]["subscriptionId"])
    datas = [event["data"] for _, event, _ in receiver.got]
    assert [(d["to"], d["amount"]) for d in datas] == [(f"0x{watched}", a) for a in ("12345", "7", "1")]
    assert {d["from"] for d in datas} == {f"0x{sender}"}
    assert [d["block"] for d in datas] == [r.included_in_block for r in (first, second, later)]


async def _assert_v1a(settings: Any, headers: dict[str, str], receiver: Receiver, subscription: str) -> None:
    """Every call also carries a v1a signature that the platform's published key verifies over the
    exact bytes, for this subscription."""
    async with app_client(create_app(settings)) as client:
        shown = await client.get("/api/v1/webhooks/signing-key", headers=headers)
    assert shown.status_code == 200, shown.text
    public = Ed25519PublicKey.from_public_bytes(
        base64.b64decode(shown.json()["publicKey"].removeprefix("whpk_"))
    )
    assert receiver.raw
    for sent, body in receiver.raw:
        versions = dict(s.split(",", 1) for s in sent["webhook-signature"].split(" "))
        assert set(versions) == {"v1", "v1a"}
        signed = f"{sent['webhook-id']}.{sent['webhook-timestamp']}.".encode() + body
        public.verify(base64.b64decode(versions["v1a"]), signed)
        assert json.loads(body)["subscription"] == subscription
