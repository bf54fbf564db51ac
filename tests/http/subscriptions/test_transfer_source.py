"""The NEP-17 transfer source with a fake chain, on SQLite and on PostgreSQL as the application role:
the API's refusals and answer, the scanner publishing one ``transfer.nep17`` event per transfer and per
tenant whose watch matches (in, out, both; mints and burns; a FAULTed transfer never), and each
subscription getting only its own watch's transfers."""

from __future__ import annotations

import json
from typing import Any

from neo_service_layer.services.subscriptions.adapters.store import SqlSubscriptionStore
from tests.http.subscriptions.conftest import Api, Receiver, Tenant
from tests.http.subscriptions.test_chain_source import FakeChain, _scanner, _subscribe, _use

GAS = "0x" + "d2" * 20
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b0" * 20


def _le(script_hash: str) -> bytes:
    """A script hash as a Transfer argument carries it (20 bytes, little-endian)."""
    return bytes.fromhex(script_hash[2:])[::-1]


def _source(address: str = ALICE, direction: str = "both", **extra: Any) -> dict[str, Any]:
    transfers = {"asset": GAS, "address": address, "direction": direction}
    return {"types": ["transfer.nep17"], "transfers": transfers, **extra}


async def _transfers(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    found = await SqlSubscriptionStore(api.container.engine).events_after(tenant.id, 0, 100)
    return [json.loads(e.data) for e in found if e.type == "transfer.nep17"]


async def test_transfer_filters_refused_and_shown(api: Api) -> None:
    acme = await api.tenant("acme")

    async def create(source: dict[str, Any]) -> tuple[int, Any]:
        answer = await acme.call("POST", "", json={"name": "t", "source": source, "channel": {"stream": {}}})
        return answer.status_code, answer.json()

    status, body = await create(_source())
    assert (status, body["type"].endswith("no-neo-network")) == (422, True)
    _use(api, FakeChain())
    for source in (
        _source(address="0x12"),
        _source(direction="sideways"),
        _source(types=["transfer.nep17", "audit.security"]),
        {**_source(), "chain": {"contract": GAS, "event": "Transfer"}},
    ):
        status, body = await create(source)
        assert status == 422, (source, body)
    status, body = await create(_source(types=["chain.notification"]))
    assert (status, body["type"].endswith("invalid-transfer-filter")) == (422, True)
    sub_id, _ = await _subscribe(acme, _source(address=ALICE.upper().replace("0X", "0x"), direction="in"))
    shown = (await acme.call("GET", f"/{sub_id}")).json()["source"]
    assert shown["transfers"] == {
        "chain": "n3",
        "asset": GAS,
        "address": ALICE,
        "direction": "in",
        "startBlock": 10,
    }
    assert shown["chain"] is None


async def test_each_matching_transfer_is_published_once_per_tenant(api: Api) -> None:
    chain = FakeChain(head=10)
    _use(api, chain)
    acme, other = await api.tenant("acme"), await api.tenant("other")
    await _subscribe(acme, _source(ALICE, "in"))
    await _subscribe(acme, _source(ALICE, "both"))  # a second watch of acme: still one event each
    await _subscribe(other, _source(BOB, "out"))
    chain.blocks[11] = [
        (GAS, "Transfer", (_le(BOB), _le(ALICE), 5 * 10**17), "HALT"),  # bob -> alice: both hear it
        (GAS, "Transfer", (_le(ALICE), _le(BOB), 3), "HALT"),  # alice -> bob: acme (both) only
        (GAS, "Transfer", (None, _le(ALICE), 7), "HALT"),  # a mint to alice
        (GAS, "Transfer", (_le(BOB), _le(ALICE), 9), "FAULT"),  # rolled back: never
        (GAS, "Approval", (_le(BOB), _le(ALICE), 1), "HALT"),  # not a transfer
        (GAS, "Transfer", (_le(BOB), b"short", 1), "HALT"),  # not a NEP-17 transfer
    ]
    chain.head = 11
    scanner = _scanner(api, chain)
    assert await scanner.run_once() == 1
    assert await scanner.run_once() == 0  # nothing new: nothing published again
    mine = await _transfers(api, acme)
    assert [(t["from"], t["to"], t["amount"]) for t in mine] == [
        (BOB, ALICE, str(5 * 10**17)),
        (ALICE, BOB, "3"),
        (None, ALICE, "7"),
    ]
    assert {(t["asset"], t["block"], t["txHash"]) for t in mine} == {(GAS, 11, "0x" + "11" * 32)}
    assert [t["position"] for t in mine] == [0, 1, 2]
    assert [(t["from"], t["to"]) for t in await _transfers(api, other)] == [(BOB, ALICE)]


async def test_each_subscription_gets_its_own_direction(api: Api, receiver: Receiver) -> None:
    chain = FakeChain(head=10)
    _use(api, chain)
    acme = await api.tenant("acme")
    _, incoming = await _subscribe(acme, _source(ALICE, "in"), f"{receiver.base}/i/ok")
    _, outgoing = await _subscribe(acme, _source(ALICE, "out"), f"{receiver.base}/o/ok")
    assert incoming
    assert outgoing
    receiver.secrets = {"/i/ok": incoming, "/o/ok": outgoing}
    chain.blocks[11] = [
        (GAS, "Transfer", (_le(BOB), _le(ALICE), 1), "HALT"),
        (GAS, "Transfer", (_le(ALICE), _le(BOB), 2), "HALT"),
        (GAS, "Transfer", (_le(ALICE), None, 3), "HALT"),  # a burn by alice: out
    ]
    chain.head = 11
    await _scanner(api, chain).run_once()
    relay, sender = api.worker()
    for _ in range(4):
        await api.round(relay, sender)
    assert len(receiver.ids("/i/ok")) == 1
    assert len(receiver.ids("/o/ok")) == 2
    assert not set(receiver.ids("/i/ok")) & set(receiver.ids("/o/ok"))
