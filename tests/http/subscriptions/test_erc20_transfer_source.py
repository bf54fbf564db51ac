"""The ERC-20 transfer source on Neo X with fake chains, on SQLite and on PostgreSQL as the application
role: the API's refusals and answer (``chain: neox``, ``transfer.erc20``, the Neo X head as start block),
the Neo X scanner publishing one ``transfer.erc20`` event per transfer and per tenant whose watch matches
(mints and burns by the zero address), and the two chains' scanners never reading each other's watches."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from neo_service_layer.kernel.chain.ports.chain import BlockEvents, ChainEvent
from neo_service_layer.services.subscriptions.adapters.chain_store import SqlChainSourceStore
from neo_service_layer.services.subscriptions.adapters.store import SqlSubscriptionStore
from neo_service_layer.services.subscriptions.parts import NAME, SubscriptionParts
from neo_service_layer.services.subscriptions.use_cases.chain_source import ChainScanner, deliverable
from neo_service_layer.services.subscriptions.use_cases.transfer_source import ERC20
from tests.http.subscriptions.conftest import Api, Receiver, Tenant
from tests.http.subscriptions.test_chain_source import FakeChain, _scanner, _subscribe, _use

TOKEN = "0x" + "7e" * 20
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b0" * 20
ZERO = "0x" + "00" * 20
TX = "0x" + "ee" * 32


def _checksummed(address: str) -> str:
    """How the EVM source shows an address: mixed case (any mix: the scanner lowercases it)."""
    return "0x" + address[2:].upper()


@dataclass
class FakeNeoX:
    """Neo X blocks by index: (contract, name, values) logs, each with its log index."""

    head: int = 500
    blocks: dict[int, list[tuple[str, str, tuple[Any, ...]]]] = field(default_factory=dict)
    reads: list[tuple[int, str]] = field(default_factory=list)

    async def height(self) -> int:
        return self.head

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        self.reads.append((index, contract))
        events = tuple(
            ChainEvent(index, TX, c, name, values, log_index=i)
            for i, (c, name, values) in enumerate(self.blocks.get(index, []))
            if c == contract
        )
        return BlockEvents(index, None, events)


def _use_neox(api: Api, neox: FakeNeoX) -> None:
    subs = api.container.parts_of(NAME, SubscriptionParts).subscriptions
    subs._neox = neox  # the container has no EVM chain configured


def _neox_scanner(api: Api, neox: FakeNeoX) -> ChainScanner:
    store = SqlChainSourceStore(api.container.engine, "neox")
    return ChainScanner(store, neox, api.container.clock, kind=ERC20)


def _source(address: str = ALICE, direction: str = "both", **extra: Any) -> dict[str, Any]:
    transfers = {"chain": "neox", "asset": TOKEN, "address": address, "direction": direction}
    return {"types": ["transfer.erc20"], "transfers": transfers, **extra}


async def _events(api: Api, tenant: Tenant, event_type: str = "transfer.erc20") -> list[dict[str, Any]]:
    found = await SqlSubscriptionStore(api.container.engine).events_after(tenant.id, 0, 100)
    return [json.loads(e.data) for e in found if e.type == event_type]


async def test_neox_transfer_filters_refused_and_shown(api: Api) -> None:
    acme = await api.tenant("acme")

    async def create(source: dict[str, Any]) -> tuple[int, Any]:
        answer = await acme.call("POST", "", json={"name": "t", "source": source, "channel": {"stream": {}}})
        return answer.status_code, answer.json()

    _use(api, FakeChain(head=10))  # N3 configured: Neo X still is not
    status, body = await create(_source())
    assert (status, body["type"].endswith("no-neox-network")) == (422, True)
    _use_neox(api, FakeNeoX(head=500))
    for source in (
        _source(address="0x12"),
        _source(address="0x" + "g1" * 20),
        _source(direction="sideways"),
        {**_source(), "transfers": {**_source()["transfers"], "chain": "eth"}},
        {**_source(), "transfers": {**_source()["transfers"], "extra": 1}},
    ):
        status, body = await create(source)
        assert status == 422, (source, body)
    status, body = await create(_source(types=["transfer.nep17"]))  # the N3 type on Neo X
    assert (status, body["type"].endswith("invalid-transfer-filter")) == (422, True)
    assert "'transfer.erc20'" in body["detail"]
    assert "Neo X" in body["detail"]
    status, body = await create(_source(types=["transfer.erc20", "transfer.nep17"]))
    assert (status, body["type"].endswith("invalid-transfer-filter")) == (422, True)
    n3_with_erc20 = {**_source(), "transfers": {"asset": TOKEN, "address": ALICE}}  # chain n3 by default
    status, body = await create(n3_with_erc20)
    assert (status, "'transfer.nep17'" in body["detail"]) == (422, True)
    sub_id, _ = await _subscribe(acme, _source(address=_checksummed(ALICE), direction="in"))
    shown = (await acme.call("GET", f"/{sub_id}")).json()["source"]
    assert shown["transfers"] == {
        "chain": "neox",
        "asset": TOKEN,
        "address": ALICE,
        "direction": "in",
        "startBlock": 500,  # the Neo X head, not N3's
    }


async def test_each_matching_erc20_transfer_is_published_once_per_tenant(api: Api) -> None:
    neox = FakeNeoX(head=500)
    _use_neox(api, neox)
    acme, other = await api.tenant("acme"), await api.tenant("other")
    await _subscribe(acme, _source(ALICE, "in"))
    await _subscribe(acme, _source(ALICE, "both"))  # a second watch of acme: still one event each
    await _subscribe(other, _source(BOB, "out"))
    alice, bob = _checksummed(ALICE), _checksummed(BOB)
    neox.blocks[501] = [
        (TOKEN, "Transfer", (bob, alice, 5 * 10**24)),  # bob -> alice: both tenants hear it
        (TOKEN, "Transfer", (alice, bob, 3)),  # alice -> bob: acme (both) only
        (TOKEN, "Transfer", (ZERO, alice, 7)),  # a mint to alice: in
        (TOKEN, "Transfer", (alice, ZERO, 2)),  # a burn by alice: out
        (TOKEN, "Approval", (bob, alice, 1)),  # not a transfer
        (TOKEN, "Transfer", (bob, "0x1234", 1)),  # not an address
        (TOKEN, "Transfer", (bob, alice, True)),  # not an amount
    ]
    neox.head = 502
    scanner = _neox_scanner(api, neox)
    assert await scanner.run_once() == 2
    assert await scanner.run_once() == 0  # nothing new: nothing published again
    assert await _neox_scanner(api, neox).run_once() == 0  # another worker: the cursor moved
    mine = await _events(api, acme)
    assert [(t["from"], t["to"], t["amount"]) for t in mine] == [
        (BOB, ALICE, str(5 * 10**24)),
        (ALICE, BOB, "3"),
        (ZERO, ALICE, "7"),
        (ALICE, ZERO, "2"),
    ]
    assert {(t["asset"], t["block"], t["txHash"]) for t in mine} == {(TOKEN, 501, TX)}
    assert [t["logIndex"] for t in mine] == [0, 1, 2, 3]
    assert [(t["from"], t["to"]) for t in await _events(api, other)] == [(BOB, ALICE)]
    assert await _events(api, acme, "transfer.nep17") == []


async def test_the_chains_never_read_each_other_s_watches(api: Api) -> None:
    """An N3 and a Neo X watch of the same hex: each scanner reads its own, with its own cursor."""
    chain, neox = FakeChain(head=10), FakeNeoX(head=500)
    _use(api, chain)
    _use_neox(api, neox)
    acme = await api.tenant("acme")
    n3_source = {"types": ["transfer.nep17"], "transfers": {"asset": TOKEN, "address": ALICE}}
    n3_id, _ = await _subscribe(acme, n3_source)
    neox_id, _ = await _subscribe(acme, _source(ALICE))
    little_endian = bytes.fromhex(ALICE[2:])[::-1]
    chain.blocks[11] = [(TOKEN, "Transfer", (None, little_endian, 4), "HALT")]
    neox.blocks[501] = [(TOKEN, "Transfer", (ZERO, _checksummed(ALICE), 9))]
    chain.head, neox.head = 11, 501
    assert await _scanner(api, chain).run_once() == 1
    assert await _neox_scanner(api, neox).run_once() == 1
    assert chain.reads == [(11, TOKEN)]
    assert neox.reads == [(501, TOKEN)]
    assert [t["amount"] for t in await _events(api, acme, "transfer.nep17")] == ["4"]
    assert [t["amount"] for t in await _events(api, acme)] == ["9"]
    # the N3 cursor never moved the Neo X one (nor the other way): a block above each head is next
    chain.blocks[12] = [(TOKEN, "Transfer", (None, little_endian, 5), "HALT")]
    chain.head = 12
    assert await _scanner(api, chain).run_once() == 1
    assert await _neox_scanner(api, neox).run_once() == 0
    # each subscription gets its own chain's events only, though the data look alike
    store = SqlSubscriptionStore(api.container.engine)
    n3_sub, neox_sub = await store.get(acme.id, n3_id), await store.get(acme.id, neox_id)
    assert n3_sub is not None
    assert neox_sub is not None
    for event in await store.events_after(acme.id, 0, 100):
        for_n3 = deliverable(n3_sub.types, n3_sub.source_filter, event.type, event.data)
        for_neox = deliverable(neox_sub.types, neox_sub.source_filter, event.type, event.data)
        assert (for_n3, for_neox) == (event.type == "transfer.nep17", event.type == "transfer.erc20")


async def test_each_subscription_gets_its_own_direction(api: Api, receiver: Receiver) -> None:
    neox = FakeNeoX(head=500)
    _use_neox(api, neox)
    acme = await api.tenant("acme")
    _, incoming = await _subscribe(acme, _source(ALICE, "in"), f"{receiver.base}/i/ok")
    _, outgoing = await _subscribe(acme, _source(ALICE, "out"), f"{receiver.base}/o/ok")
    assert incoming
    assert outgoing
    receiver.secrets = {"/i/ok": incoming, "/o/ok": outgoing}
    alice, bob = _checksummed(ALICE), _checksummed(BOB)
    neox.blocks[501] = [
        (TOKEN, "Transfer", (ZERO, alice, 1)),  # a mint: in
        (TOKEN, "Transfer", (alice, bob, 2)),
        (TOKEN, "Transfer", (alice, ZERO, 3)),  # a burn: out
    ]
    neox.head = 501
    await _neox_scanner(api, neox).run_once()
    relay, sender = api.worker()
    for _ in range(4):
        await api.round(relay, sender)
    assert len(receiver.ids("/i/ok")) == 1
    assert len(receiver.ids("/o/ok")) == 2
    assert not set(receiver.ids("/i/ok")) & set(receiver.ids("/o/ok"))
