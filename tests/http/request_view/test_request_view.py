"""``/api/v1/requests``: requests moved through each state by the real request store, and the reason the
view gives for each from the stored facts; tenants see only the consumers they watch, operators all."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import httpx

from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.kernel.chain.rules import ChainEventKind, Fulfilment, NewRequest, RequestUpdate
from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.rules import RandomnessParams, RandomnessResult
from tests.http.subscriptions.conftest import Api

WATCHED, OTHER = "0x" + "ab" * 20, "0x" + "cd" * 20
CONTRACT = "0x" + "11" * 20
CURSOR = f"randomness:{CONTRACT}"  # the watcher's cursor name, as ``ChainWatcher`` names it
BASE = "/api/v1/requests"


def _tx(n: int) -> str:
    return "0x" + f"{n:02x}" * 32


def _signed(n: int, valid_until: int = 100) -> SignedTransaction:
    return SignedTransaction(_tx(n), b"raw", valid_until, 1, 1)


def _answer(request_id: int) -> Fulfilment[RandomnessResult]:
    return Fulfilment(request_id, RandomnessResult(b"o" * 32, b"p" * 64), True)


class Chain:
    """Moves randomness requests through the real store, one block per new request."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = SqlRequestStore(api.container.engine, RandomnessPayloads())
        self.block = 4

    async def new(self, request_id: int, consumer: str = WATCHED) -> None:
        self.block += 1
        asked = NewRequest(
            request_id, consumer, RandomnessParams(1, bytes([request_id]) * 32), self.block, _tx(99)
        )
        now = self.api.clock.now()
        await self.store.apply_block(CURSOR, "randomness", CONTRACT, self.block, None, [asked], [], now)

    async def claim(self, worker: str, seconds: float) -> int:
        now = self.api.clock.now()
        until = now + timedelta(seconds=seconds)
        [claimed] = await self.store.claim("randomness", CONTRACT, worker, now, until, 10)
        return claimed.request_id

    async def fulfilling(self, request_id: int, tx: int) -> None:
        await self.new(request_id)
        assert await self.claim("w1", 60) == request_id
        now = self.api.clock.now()
        assert await self.store.write_outbox(
            "randomness", CONTRACT, "w1", now, _signed(tx), [_answer(request_id)]
        )

    async def updates(self, *moves: tuple[int, ChainEventKind, str | None]) -> None:
        self.block += 1
        events = [RequestUpdate(rid, kind, self.block, _tx(77), why) for rid, kind, why in moves]
        now = self.api.clock.now()
        await self.store.apply_block(CURSOR, "randomness", CONTRACT, self.block, None, [], events, now)


async def _heartbeat(api: Api, worker: str = "w1") -> None:
    now = api.clock.now()
    await record_heartbeat(
        api.container.engine, worker_id=worker, hostname="h", pid=os.getpid(), started_at=now, now=now
    )


async def _get(client: httpx.AsyncClient, token: str, path: str = "", **params: Any) -> httpx.Response:
    return await client.get(f"{BASE}{path}", params=params, headers={"authorization": f"Bearer {token}"})


def _reasons(page: dict[str, Any]) -> dict[int, tuple[str, Any]]:
    return {int(r["requestId"]): (r["state"], r["reason"]) for r in page["requests"]}


async def test_each_state_carries_the_reason_its_facts_support(api: Api, operator: str) -> None:
    chain = Chain(api)
    await chain.fulfilling(1, tx=1)  # in the outbox, never sent
    await chain.fulfilling(2, tx=2)
    await chain.store.mark_sent(_tx(2), api.clock.now(), None)
    await chain.fulfilling(3, tx=3)
    await chain.store.mark_sent(_tx(3), api.clock.now(), "RPC: insufficient funds for fee")
    await chain.fulfilling(4, tx=4)
    await chain.store.outbox_included(_tx(4), 20)  # the watcher's cursor is far below block 20
    await chain.new(5)
    assert await chain.claim("w1", 60) == 5
    assert await chain.store.mark_failed(
        "randomness", CONTRACT, "w1", 5, "FAULT: insufficient GAS", api.clock.now()
    )
    await chain.new(6)
    await chain.new(7)
    await chain.updates(
        (6, ChainEventKind.FULFILLED, None),
        (6, ChainEventKind.CALLBACK_FAILED, "FAULT: consumer threw: dice out of range"),
        (7, ChainEventKind.FULFILLED, None),
        (7, ChainEventKind.DELIVERED, None),
    )
    await chain.new(8)
    assert await chain.claim("w1", 600) == 8
    await chain.new(9)
    assert await chain.claim("w2", 1) == 9
    api.clock.advance(seconds=5)  # w2's lease on 9 runs out, w1's on 8 still holds
    await chain.new(10)

    answer = await _get(api.client, operator)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["scope"] == "all"
    got = _reasons(page)
    assert list(got) == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]  # newest seen first
    codes = {rid: (state, reason["code"] if reason else None) for rid, (state, reason) in got.items()}
    assert codes == {
        10: ("seen", "no_worker"),  # no heartbeat recorded yet
        9: ("seen", "no_worker"),
        8: ("seen", "leased"),
        7: ("delivered", None),
        6: ("callback_failed", "callback_failed"),
        5: ("failed", "failed"),
        4: ("fulfilling", "awaiting_watcher"),
        3: ("fulfilling", "tx_send_error"),
        2: ("fulfilling", "tx_not_included"),
        1: ("fulfilling", "tx_unsent"),
    }
    assert "worker w1" in got[8][1]["text"]
    assert got[6][1]["text"].endswith("dice out of range")
    assert got[6][1]["stuck"]
    assert "insufficient GAS" in got[5][1]["text"]
    assert "block 20" in got[4][1]["text"]
    assert str(chain.block) in got[4][1]["text"]
    assert "insufficient funds for fee" in got[3][1]["text"]
    assert "valid until block 100" in got[2][1]["text"]
    two = next(r for r in page["requests"] if r["requestId"] == "2")
    assert two["outbox"]["txHash"] == _tx(2)
    assert two["outbox"]["sendCount"] == 1

    await _heartbeat(api)  # a worker is alive: the unclaimed ones wait for it
    got = _reasons((await _get(api.client, operator)).json())
    assert got[10][1]["code"] == "waiting_claim"
    assert got[9][1]["code"] == "lease_expired"
    assert "worker w2" in got[9][1]["text"]

    one = await _get(api.client, operator, "/randomness/6")
    assert one.status_code == 200
    assert one.json()["callbackFailure"].endswith("dice out of range")
    filtered = (await _get(api.client, operator, state="fulfilling")).json()
    assert [r["requestId"] for r in filtered["requests"]] == ["4", "3", "2", "1"]


async def test_pages_follow_the_cursor_and_a_forged_cursor_is_refused(api: Api, operator: str) -> None:
    chain = Chain(api)
    for rid in range(1, 6):
        await chain.new(rid)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await _get(api.client, operator, **params)).json()
        seen += [r["requestId"] for r in page["requests"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["5", "4", "3", "2", "1"]
    for bad in ("not-a-cursor", "W10", "eyJhIjoxfQ"):
        refused = await _get(api.client, operator, cursor=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    unknown = await _get(api.client, operator, "/randomness/404")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert (await _get(api.client, operator, "/feeds/1")).status_code == 422  # not a request service


async def test_a_tenant_sees_only_the_consumers_it_watches_and_needs_the_scope(
    api: Api, operator: str
) -> None:
    acme = await api.tenant("acme")
    watch = {"types": ["request.*"], "requests": {"consumer": WATCHED, "service": "randomness"}}
    created = await acme.call("POST", "", json={"name": "w", "source": watch, "channel": {"stream": {}}})
    assert created.status_code == 201, created.text
    chain = Chain(api)
    await chain.new(1, WATCHED)
    await chain.new(2, OTHER)
    key = await acme.key("randomness:request")
    page = (await _get(api.client, key)).json()
    assert page["scope"] == "watched"
    assert [r["requestId"] for r in page["requests"]] == ["1"]
    assert (await _get(api.client, key, "/randomness/1")).status_code == 200
    assert (await _get(api.client, key, "/randomness/2")).status_code == 404  # not its consumer
    assert (await _get(api.client, key, service="oracle")).json()["requests"] == []  # no oracle scope
    assert (await _get(api.client, key, "/oracle/1")).status_code == 403
    other = await acme.key("keys:read")
    refused = await _get(api.client, other)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    everything = (await _get(api.client, operator)).json()
    assert [r["requestId"] for r in everything["requests"]] == ["2", "1"]
