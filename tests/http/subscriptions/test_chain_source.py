"""The N3 contract notification source with a fake chain, on SQLite and on PostgreSQL as the application
role (row-level security): the API's refusals, the scanner's durable cursor (each matching notification
published once per tenant across a re-read block, a crash before the commit and two scanners; the start
block respected; only tenants with a matching subscription get an event) and the relay handing a chain
event only to the subscriptions whose filter matches it, signed, to a real receiver."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from neo_service_layer.kernel.chain.ports.chain import BlockEvents, ChainEvent
from neo_service_layer.services.subscriptions.adapters.chain_store import SqlChainSourceStore
from neo_service_layer.services.subscriptions.adapters.store import SqlSubscriptionStore
from neo_service_layer.services.subscriptions.parts import NAME, SubscriptionParts
from neo_service_layer.services.subscriptions.use_cases.chain_source import ChainScanner
from neo_service_layer.services.subscriptions.use_cases.manage import Subscriptions
from tests.http.subscriptions.conftest import Api, Receiver, Tenant

PING = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
TX = "0x" + "11" * 32


@dataclass
class FakeChain:
    """Blocks by index: (contract, name, values, vmstate); ``hold`` pauses a read of that block."""

    head: int = 10
    blocks: dict[int, list[tuple[str, str, tuple[Any, ...], str]]] = field(default_factory=dict)
    reads: list[tuple[int, str]] = field(default_factory=list)
    hold: dict[int, asyncio.Event] = field(default_factory=dict)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    broken: set[int] = field(default_factory=set)

    async def height(self) -> int:
        return self.head

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        self.reads.append((index, contract))
        if index in self.hold:
            self.entered.set()
            await self.hold[index].wait()
        if index in self.broken:
            raise ConnectionError("node went away")
        events = tuple(
            ChainEvent(index, TX, c, name, values, vmstate)
            for c, name, values, vmstate in self.blocks.get(index, [])
            if c == contract
        )
        return BlockEvents(index, None, events)


def _use(api: Api, chain: FakeChain) -> Subscriptions:
    subs = api.container.parts_of(NAME, SubscriptionParts).subscriptions
    subs._chain = chain  # type: ignore[assignment]  # the container has no network configured
    return subs


def _source(value: object = 7, event: str = "Ping", **extra: Any) -> dict[str, Any]:
    chain = {"contract": PING, "event": event, "filters": [{"index": 0, "value": value}]}
    return {"types": ["chain.notification"], "chain": chain, **extra}


async def _subscribe(
    tenant: Tenant, source: dict[str, Any], url: str | None = None
) -> tuple[str, str | None]:
    channel: dict[str, Any] = {"webhook": {"url": url}} if url else {"stream": {}}
    answer = await tenant.call("POST", "", json={"name": "c", "source": source, "channel": channel})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["subscription"]["subscriptionId"], body["webhookSecret"]


async def _chain_events(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    found = await SqlSubscriptionStore(api.container.engine).events_after(tenant.id, 0, 100)
    return [json.loads(e.data) for e in found if e.type == "chain.notification"]


def _scanner(api: Api, chain: FakeChain) -> ChainScanner:
    return ChainScanner(SqlChainSourceStore(api.container.engine), chain, api.container.clock)


async def test_chain_filters_refused(api: Api) -> None:
    acme = await api.tenant("acme")

    async def create(source: dict[str, Any]) -> Any:
        answer = await acme.call("POST", "", json={"name": "c", "source": source, "channel": {"stream": {}}})
        return answer.status_code, answer.json()

    status, body = await create(_source())
    assert status == 422
    assert body["type"].endswith("no-neo-network")  # no network configured
    _use(api, FakeChain())
    bad_contract = _source()
    bad_contract["chain"]["contract"] = "0x1234"
    both = _source()
    both["chain"]["filters"] = [{"index": 0, "value": 1, "hash160": "0x" + "00" * 20}]
    five = _source()
    five["chain"]["filters"] = [{"index": i, "value": 1} for i in range(5)]
    for source in (
        bad_contract,
        both,
        five,
        _source(types=["chain.notification", "audit.security"]),
        _source(event=""),
        _source(event="x" * 65),
    ):
        status, body = await create(source)
        assert status == 422, (source, body)
    status, body = await create(_source(types=["*"]))
    assert status == 422
    assert body["type"].endswith("invalid-chain-filter")
    assert (await acme.call("GET", "")).json()["subscriptions"] == []
    sub_id, _ = await _subscribe(acme, _source())
    shown = (await acme.call("GET", f"/{sub_id}")).json()["source"]
    assert shown["chain"] == {
        "contract": PING,
        "event": "Ping",
        "filters": [{"index": 0, "value": 7, "hash160": None}],
        "startBlock": 10,
    }


async def test_scanner_publishes_each_match_once_per_tenant(api: Api) -> None:
    chain = FakeChain(head=10)
    _use(api, chain)
    acme, globex, initech = await api.tenant("acme"), await api.tenant("globex"), await api.tenant("initech")
    await _subscribe(acme, _source(7))
    await _subscribe(acme, _source(7))  # two matching subscriptions: still one event for the tenant
    await _subscribe(globex, _source(8))
    await initech.subscribe(["*"])  # no chain filter: the scanner publishes nothing for it
    first = _scanner(api, chain)
    assert await first.run_once() == 0  # the cursor starts at the head
    chain.blocks[11] = [
        (PING, "Ping", (7,), "HALT"),
        (PING, "Ping", (9,), "HALT"),
        (PING, "Pong", (7,), "HALT"),
        (PING, "Ping", (7,), "FAULT"),  # rolled back: never happened
        (OTHER, "Ping", (7,), "HALT"),
        (PING, "Ping", (b"\x07",), "HALT"),  # 7 in Neo's byte encoding
    ]
    chain.blocks[12] = [(PING, "Ping", (8,), "HALT"), (PING, "Ping", (7,), "HALT")]
    chain.head = 11
    late = await api.tenant("late")
    await _subscribe(late, _source(7))  # created at head 11: it sees block 12 on
    chain.head = 12
    chain.broken = {12}
    with pytest.raises(ConnectionError):
        await first.run_once()  # block 11 committed, block 12 not
    assert [(e["block"], e["position"]) for e in await _chain_events(api, acme)] == [(11, 0), (11, 3)]
    chain.broken = set()
    # a subscription created while a scanner reads block 12, at head 11 (its node a block behind): the
    # scanner writes nothing and the block is read again with it
    release = chain.hold[12] = asyncio.Event()
    held = asyncio.create_task(first.run_once())
    await chain.entered.wait()
    del chain.hold[12]
    chain.head = 11
    mid = await api.tenant("mid")
    await _subscribe(mid, _source(7))
    chain.head = 12
    release.set()
    assert await held == 0
    # two scanners read block 13; the one that moves the cursor publishes, the other writes nothing
    chain.blocks[13] = [(PING, "Ping", (7,), "HALT")]
    chain.head = 13
    chain.entered.clear()
    release = chain.hold[13] = asyncio.Event()
    held = asyncio.create_task(first.run_once())  # block 12, then it waits in block 13
    await chain.entered.wait()
    del chain.hold[13]
    second = _scanner(api, chain)
    assert await second.run_once() == 1
    release.set()
    assert await held == 1
    assert await second.run_once() == 0
    assert await first.run_once() == 0
    acme_events = await _chain_events(api, acme)
    assert [(e["block"], e["position"]) for e in acme_events] == [(11, 0), (11, 3), (12, 1), (13, 0)]
    assert acme_events[0] == {
        "contract": PING,
        "event": "Ping",
        "values": [7],
        "block": 11,
        "txHash": TX,
        "position": 0,
    }
    assert acme_events[1]["values"] == ["Bw=="]  # bytes as base64
    assert [(e["block"], e["position"]) for e in await _chain_events(api, globex)] == [(12, 0)]
    assert [(e["block"], e["position"]) for e in await _chain_events(api, late)] == [(12, 1), (13, 0)]
    assert [(e["block"], e["position"]) for e in await _chain_events(api, mid)] == [(12, 1), (13, 0)]
    assert await _chain_events(api, initech) == []
    assert all(contract == PING for _, contract in chain.reads)  # only watched contracts are read


async def test_relay_and_stream_apply_the_filter(api: Api, receiver: Receiver) -> None:
    chain = FakeChain(head=10)
    subs = _use(api, chain)
    acme = await api.tenant("acme")
    seven, seven_secret = await _subscribe(acme, _source(7), f"{receiver.base}/a/ok")
    eight, eight_secret = await _subscribe(acme, _source(8), f"{receiver.base}/b/ok")
    _, auto_secret = await acme.subscribe(["automation.*", "audit.security"], f"{receiver.base}/c/ok")
    _, star_secret = await acme.subscribe(["*"], f"{receiver.base}/d/ok")
    stream_id, _ = await _subscribe(acme, _source(8))
    assert seven_secret
    assert eight_secret
    assert auto_secret
    assert star_secret
    receiver.secrets = {
        "/a/ok": seven_secret,
        "/b/ok": eight_secret,
        "/c/ok": auto_secret,
        "/d/ok": star_secret,
    }
    scanner = _scanner(api, chain)
    await scanner.run_once()
    chain.blocks[11] = [(PING, "Ping", (7,), "HALT"), (PING, "Ping", (9,), "HALT")]
    chain.head = 11
    assert await scanner.run_once() == 1
    relay, sender = api.worker()
    await api.round(relay, sender)
    [event_id] = receiver.ids("/a/ok")
    assert receiver.ids("/d/ok") == [event_id]  # "*" names every type
    assert receiver.ids("/b/ok") == []  # its filter does not match
    assert receiver.ids("/c/ok") == []  # it does not name chain.notification
    assert [p for p, _, ok in receiver.hits if not ok] == []
    counts = (await acme.call("GET", f"/{eight}")).json()["counts"]
    assert counts == {}
    stream = await subs.get(acme.id, stream_id)
    found, _ = await subs.events_after(stream, 0, 100)
    assert found == []
    assert (await acme.call("GET", f"/{seven}")).json()["counts"] == {"delivered": 1}
