"""The transfer source: a subscription that watches an address's transfers of one asset, on Neo N3
(NEP-17) or on Neo X (ERC-20).

``{"chain": "n3" | "neox", "asset": "0x<40 hex>", "address": "0x<40 hex>", "direction": "in" | "out" |
"both"}``: the chain's scanner (``chain_source``) reads the asset contract's ``Transfer(from, to,
amount)`` events of each new block (HALTed executions on N3; an EVM chain keeps no logs of a reverted
transaction) and publishes one ``transfer.nep17`` (N3) or ``transfer.erc20`` (Neo X) event per transfer
and per tenant whose watch matches (``to`` is the address for ``in``, ``from`` for ``out``, either for
``both``), in the transaction that moves that chain's cursor: the same durable path as contract
notifications. Mints (``from`` null on N3, the zero address on Neo X) and burns (``to`` likewise) count
as transfers in and out.

The filter is stored where chain filters are (``subscription_chain_filters``, the asset as its
contract, the chain as its ``source``), as JSON whose sorted keys start with ``{"address"`` (a chain
filter's with ``{"contract"``); an N3 watch's JSON has no ``chain`` key (as before Neo X watches).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.events.rules import TRANSFER_ERC20, TRANSFER_NEP17

_SCRIPT_HASH = re.compile(r"^0x[0-9a-fA-F]{40}$")
DIRECTIONS = ("in", "out", "both")
#: the chains a transfer watch is on (the scanner sources: ``subscription_chain_cursor.source``)
N3, NEOX = "n3", "neox"
CHAINS = (N3, NEOX)
#: (from, to, amount) of a transfer; ``None`` for N3's null (mint / burn)
Transfer = tuple[str | None, str | None, int]


class BadTransferFilter(InvalidInput):
    code = "invalid-transfer-filter"


@dataclass(frozen=True, slots=True)
class TransferWatch:
    """``asset`` and ``address`` as ``0x`` + 40 lowercase hex digits (big-endian, as RPC nodes show)."""

    asset: str
    address: str
    direction: str
    chain: str = N3

    def as_json(self) -> str:
        shown = {"address": self.address, "asset": self.asset, "direction": self.direction}
        if self.chain != N3:
            shown["chain"] = self.chain
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
    """The validated watch; the chain's event type (``transfer.nep17`` on N3, ``transfer.erc20`` on
    Neo X) must be the subscription's only type."""
    chain = raw.get("chain") or N3
    if chain not in CHAINS:
        raise BadTransferFilter(f"chain must be one of {', '.join(CHAINS)}")
    kind = KINDS[str(chain)]
    if list(dict.fromkeys(types)) != [kind.event_type]:
        raise BadTransferFilter(
            f"a transfer filter on {kind.label} needs {kind.event_type!r} as the only type"
        )
    direction = raw.get("direction") or "both"
    if direction not in DIRECTIONS:
        raise BadTransferFilter(f"direction must be one of {', '.join(DIRECTIONS)}")
    asset, address = _hex160(raw, "asset", kind), _hex160(raw, "address", kind)
    return TransferWatch(asset, address, str(direction), kind.source)


def _hex160(raw: Mapping[str, object], name: str, kind: TransferKind) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not _SCRIPT_HASH.match(value):
        what = "a script hash" if kind.source == N3 else "an address"
        raise BadTransferFilter(f"{name} must be {what}: 0x and 40 hex digits")
    return value.lower()


def is_transfer_filter(stored: str) -> bool:
    return stored.startswith('{"address"')


def stored_watch(stored: str) -> TransferWatch:
    raw = json.loads(stored)
    chain = str(raw.get("chain", N3))
    return TransferWatch(str(raw["asset"]), str(raw["address"]), str(raw["direction"]), chain)


def source_of(stored: str) -> str:
    """The scanner source (chain) a stored chain or transfer filter belongs to."""
    return stored_watch(stored).chain if is_transfer_filter(stored) else N3


def _hash160(value: object) -> str | None:
    """A Hash160 argument (20 bytes, little-endian) as ``0x`` big-endian hex; None for null."""
    if isinstance(value, bytes) and len(value) == 20:
        return "0x" + value[::-1].hex()
    return None


def transfer_of(name: str, values: Sequence[Any]) -> Transfer | None:
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


def erc20_transfer_of(name: str, values: Sequence[Any]) -> Transfer | None:
    """(from, to, amount) of an ERC-20 ``Transfer(address indexed, address indexed, uint256)`` log as
    the EVM source decodes it (addresses as checksummed strings, here lowercase; the zero address of a
    mint or burn kept as it is); None for anything else."""
    if name != "Transfer" or len(values) != 3:
        return None
    sender, receiver, amount = values
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        return None
    if not all(isinstance(v, str) and _SCRIPT_HASH.match(v) for v in (sender, receiver)):
        return None
    return str(sender).lower(), str(receiver).lower(), amount


@dataclass(frozen=True, slots=True)
class TransferKind:
    """One chain's transfers: its scanner source, its event type and how a ``Transfer`` is decoded."""

    source: str
    label: str
    event_type: str
    decode: Callable[[str, Sequence[Any]], Transfer | None]


NEP17 = TransferKind(N3, "Neo N3", TRANSFER_NEP17, transfer_of)
ERC20 = TransferKind(NEOX, "Neo X", TRANSFER_ERC20, erc20_transfer_of)
KINDS = {N3: NEP17, NEOX: ERC20}


def transfer_matches(stored: str, event_type: str, data: str) -> bool:
    """Whether a transfer-filtered subscription gets an event: its chain's type, its asset, its address
    its way."""
    try:
        watch = stored_watch(stored)
        if event_type != KINDS[watch.chain].event_type:
            return False
        body = json.loads(data)
        return body["asset"] == watch.asset and watch.direction_of(body["from"], body["to"]) is not None
    except (ValueError, KeyError, TypeError):
        return False
