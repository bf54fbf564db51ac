"""The NEP-17 transfer source: a subscription that watches an address's transfers of one asset.

``{"asset": "0x<40 hex>", "address": "0x<40 hex>", "direction": "in" | "out" | "both"}``: the
chain scanner (``chain_source``) reads the asset contract's HALTed ``Transfer(from, to, amount)``
notifications of each new block and publishes one ``transfer.nep17`` event per transfer and per
tenant whose watch matches (``to`` is the address for ``in``, ``from`` for ``out``, either for
``both``), in the transaction that moves its cursor: the same durable path as contract notifications.
Mints (``from`` null) and burns (``to`` null) count as transfers in and out.

The filter is stored where chain filters are (``subscription_chain_filters``, the asset as its
contract), as JSON whose sorted keys start with ``{"address"`` (a chain filter's with ``{"contract"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.events.rules import TRANSFER_NEP17

_SCRIPT_HASH = re.compile(r"^0x[0-9a-fA-F]{40}$")
DIRECTIONS = ("in", "out", "both")


class BadTransferFilter(InvalidInput):
    code = "invalid-transfer-filter"


@dataclass(frozen=True, slots=True)
class TransferWatch:
    """``asset`` and ``address`` as ``0x`` + 40 lowercase hex digits (big-endian, as RPC nodes show)."""

    asset: str
    address: str
    direction: str

    def as_json(self) -> str:
        shown = {"address": self.address, "asset": self.asset, "direction": self.direction}
        return json.dumps(shown, sort_keys=True)

    def direction_of(self, sender: str | None, receiver: str | None) -> str | None:
        """``in``, ``out`` or ``self`` when the transfer concerns the address this way; else None."""
        incoming, outgoing = receiver == self.address, sender == self.address
        if incoming and outgoing:
            return "self" if self.direction == "both" else None
        if incoming and self.direction in ("in", "both"):
            return "in"
        if outgoing and self.direction in ("out", "both"):
            return "out"
        return None


def transfer_filter(raw: Mapping[str, object], types: Sequence[str]) -> TransferWatch:
    """The validated watch; ``transfer.nep17`` must be the subscription's only type."""
    if list(dict.fromkeys(types)) != [TRANSFER_NEP17]:
        raise BadTransferFilter(f"a transfer filter needs {TRANSFER_NEP17!r} as the only type")
    direction = raw.get("direction") or "both"
    if direction not in DIRECTIONS:
        raise BadTransferFilter(f"direction must be one of {', '.join(DIRECTIONS)}")
    return TransferWatch(_script_hash(raw, "asset"), _script_hash(raw, "address"), str(direction))


def _script_hash(raw: Mapping[str, object], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not _SCRIPT_HASH.match(value):
        raise BadTransferFilter(f"{name} must be a script hash: 0x and 40 hex digits")
    return value.lower()


def is_transfer_filter(stored: str) -> bool:
    return stored.startswith('{"address"')


def stored_watch(stored: str) -> TransferWatch:
    raw = json.loads(stored)
    return TransferWatch(str(raw["asset"]), str(raw["address"]), str(raw["direction"]))


def _hash160(value: object) -> str | None:
    """A Hash160 argument (20 bytes, little-endian) as ``0x`` big-endian hex; None for null."""
    if isinstance(value, bytes) and len(value) == 20:
        return "0x" + value[::-1].hex()
    return None


def transfer_of(name: str, values: Sequence[Any]) -> tuple[str | None, str | None, int] | None:
    """(from, to, amount) of a NEP-17 ``Transfer`` notification; None for anything else."""
    if (
        name != "Transfer"
        or len(values) != 3
        or not isinstance(values[2], int)
        or isinstance(values[2], bool)
    ):
        return None
    sender, receiver = values[0], values[1]
    if (sender is not None and _hash160(sender) is None) or (
        receiver is not None and _hash160(receiver) is None
    ):
        return None
    return _hash160(sender), _hash160(receiver), int(values[2])


def transfer_matches(stored: str, event_type: str, data: str) -> bool:
    """Whether a transfer-filtered subscription gets an event: its asset, its address its way."""
    if event_type != TRANSFER_NEP17:
        return False
    try:
        body = json.loads(data)
        watch = stored_watch(stored)
        return body["asset"] == watch.asset and watch.direction_of(body["from"], body["to"]) is not None
    except (ValueError, KeyError, TypeError):
        return False
