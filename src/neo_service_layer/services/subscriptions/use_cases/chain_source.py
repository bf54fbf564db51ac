"""The N3 contract notification source: a subscription's chain filter, which events it gets, and the
worker's scanner that turns each new block's matching notifications into tenant events.

A chain filter is the event trigger of tenant jobs (``automation.api.JobEvent``: contract, event name,
up to 4 argument filters by value or hash160), matched with the same rule. The scanner reads each block
once: the notifications of the contracts that active chain-filtered subscriptions watch (HALTed
executions only); for each tenant with a matching subscription it publishes ONE ``chain.notification``
event per notification, in the transaction that moves its durable cursor (``ChainSourceStore.advance``):
a crash before the commit leaves neither, a block read again publishes once, and of two scanners only
the one that moves the cursor from where both read it writes anything.

Neo X has its own scanner, the same class over an EVM ``BlockSource`` with ``kind=ERC20``: its own
cursor and watches (``ChainSourceStore`` of source ``neox``), transfer watches only, ``transfer.erc20``.

The relay and the stream hand a ``chain.notification`` event to a chain-filtered subscription only when
its filter matches the event (:func:`deliverable`); a subscription without a chain filter gets it when
one of its patterns names the type (``chain.notification``, ``chain.*`` or ``*``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.chain.ports.chain import BlockSource, ChainEvent
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.events.rules import CHAIN_NOTIFICATION, TenantEvent
from neo_service_layer.services.automation.api import InvalidTrigger, JobEvent, json_safe
from neo_service_layer.services.subscriptions.ports import ChainSourceStore, Watcher
from neo_service_layer.services.subscriptions.rules.matching import matches
from neo_service_layer.services.subscriptions.use_cases.request_source import (
    is_request_filter,
    request_matches,
)
from neo_service_layer.services.subscriptions.use_cases.transfer_source import (
    NEP17,
    TransferKind,
    TransferWatch,
    is_transfer_filter,
    stored_watch,
    transfer_matches,
)

#: blocks one scanner round reads at most
BLOCKS_PER_ROUND = 50


class BadChainFilter(InvalidInput):
    code = "invalid-chain-filter"


def chain_filter(raw: dict[str, Any], types: Sequence[str]) -> JobEvent:
    """The validated filter; ``chain.notification`` must be the subscription's only type."""
    if list(dict.fromkeys(types)) != [CHAIN_NOTIFICATION]:
        raise BadChainFilter(f"a chain filter needs {CHAIN_NOTIFICATION!r} as the only type")
    filters = raw.get("filters") or []
    if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
        raise BadChainFilter("filters must be a list of {index, value} or {index, hash160}")
    for f in filters:
        if ("value" in f) == ("hash160" in f) or set(f) - {"index", "value", "hash160"}:
            raise BadChainFilter("a filter has an index and exactly one of value or hash160")
        if "value" in f and f["value"] is None:
            raise BadChainFilter("a filter's value must be a string, an integer or a boolean")
    try:
        return JobEvent.from_dict(
            {"contract": raw.get("contract"), "name": raw.get("event"), "filters": filters}
        )
    except InvalidTrigger as exc:
        raise BadChainFilter(str(exc)) from exc


def filter_json(event: JobEvent) -> str:
    """What is stored and shown: ``{"contract", "event", "filters"}``."""
    shown = {"contract": event.contract, "event": event.name, "filters": [f.as_dict() for f in event.filters]}
    return json.dumps(shown, sort_keys=True, separators=(",", ":"))


def stored_filter(chain: str) -> JobEvent:
    raw = json.loads(chain)
    return JobEvent.from_dict({"contract": raw["contract"], "name": raw["event"], "filters": raw["filters"]})


def _value(shown: object) -> object:
    """A value back from its JSON form: the chain decodes byte strings to ``bytes`` (never ``str``),
    shown as base64; arrays as lists."""
    if isinstance(shown, str):
        try:
            return base64.b64decode(shown, validate=True)
        except (binascii.Error, ValueError):
            return shown
    if isinstance(shown, list):
        return tuple(_value(v) for v in shown)
    return shown


def deliverable(types: Sequence[str], chain: str | None, event_type: str, data: str) -> bool:
    """Whether a subscription (patterns, source filter) gets an event (type, JSON data); the filter is
    a chain filter, a request filter (``request_source``) or a transfer filter (``transfer_source``),
    as stored."""
    if chain is None:
        return matches(types, event_type)
    if is_request_filter(chain):
        return request_matches(types, chain, event_type, data)
    if is_transfer_filter(chain):
        return transfer_matches(chain, event_type, data)
    if event_type != CHAIN_NOTIFICATION:
        return False
    try:
        body = json.loads(data)
        values = tuple(_value(v) for v in body["values"])
        return stored_filter(chain).matches(str(body["contract"]), str(body["event"]), values)
    except (ValueError, KeyError, TypeError, InvalidTrigger):
        return False


class ChainScanner:
    """One chain's scanner: N3 (``NEP17``, the default) or Neo X (``ERC20``: an EVM ``BlockSource``
    and a store of that source's watches, which are transfer watches only)."""

    def __init__(
        self, store: ChainSourceStore, chain: BlockSource, clock: Clock, *, kind: TransferKind = NEP17
    ) -> None:
        self._store = store
        self._chain = chain
        self._clock = clock
        self._kind = kind
        self._caught_up: int | None = None  # the head up to which every block was scanned

    async def run_once(self) -> int:
        """Blocks scanned this round (it stops early when another scanner moved the cursor, or a
        subscription was created meanwhile: the block is read again next round)."""
        head = await self._chain.height()
        if head == self._caught_up:  # no new block since the last round scanned up to the head
            return 0
        cursor = await self._store.cursor(head)
        scanned = 0
        while cursor < head and scanned < BLOCKS_PER_ROUND:
            block = cursor + 1
            watchers = await self._store.watchers(block)
            events = await self._events(block, watchers)
            ids = [w.subscription_id for w in watchers]
            if not await self._store.advance(cursor, block, events, ids):
                break
            cursor, scanned = block, scanned + 1
        self._caught_up = head if cursor == head else None
        return scanned

    async def _events(self, block: int, watchers: Sequence[Watcher]) -> list[TenantEvent]:
        watched: dict[str, list[tuple[str, JobEvent]]] = defaultdict(list)
        transfers: dict[str, list[tuple[str, TransferWatch]]] = defaultdict(list)
        for watcher in watchers:
            if is_transfer_filter(watcher.chain):
                watch = stored_watch(watcher.chain)
                if watch.chain == self._kind.source:
                    transfers[watch.asset].append((watcher.tenant_id, watch))
                continue
            wanted = stored_filter(watcher.chain)
            watched[wanted.contract].append((watcher.tenant_id, wanted))
        out: list[TenantEvent] = []
        for contract in sorted(set(watched) | set(transfers)):
            found = await self._chain.block_events(block, contract)
            when = found.time or self._clock.now()
            notifications = [e for e in found.events if e.halted and e.contract.lower() == contract]
            for position, event in enumerate(notifications):
                out += _transfer_events(
                    self._kind, transfers[contract], contract, event, block, position, when
                )
                tenants = {
                    t for t, f in watched[contract] if f.matches(event.contract, event.name, event.values)
                }
                data = {
                    "contract": contract,
                    "event": event.name,
                    "values": json_safe(list(event.values)),
                    "block": block,
                    "txHash": event.tx_hash,
                    "position": position,
                }
                out.extend(TenantEvent(t, CHAIN_NOTIFICATION, when, data) for t in sorted(tenants))
        return out


def _transfer_events(
    kind: TransferKind,
    watches: Sequence[tuple[str, TransferWatch]],
    asset: str,
    event: ChainEvent,
    block: int,
    position: int,
    when: datetime,
) -> list[TenantEvent]:
    """One ``transfer.nep17`` (``transfer.erc20``) event per tenant whose watch the event matches."""
    transfer = kind.decode(event.name, event.values) if watches else None
    if transfer is None:
        return []
    sender, receiver, amount = transfer
    tenants = {t for t, w in watches if w.direction_of(sender, receiver) is not None}
    data: dict[str, object] = {
        "asset": asset,
        "from": sender,
        "to": receiver,
        "amount": str(amount),  # token amounts exceed JSON's safe integers
        "block": block,
        "txHash": event.tx_hash,
        "position": position,
    }
    if event.log_index is not None:  # an EVM log's index in its block
        data["logIndex"] = event.log_index
    return [TenantEvent(t, kind.event_type, when, data) for t in sorted(tenants)]
