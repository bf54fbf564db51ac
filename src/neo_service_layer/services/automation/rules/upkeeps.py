"""An upkeep as the automation contract stores it, and the contract's events, read as plain values.

Anyone can register an upkeep on chain, so everything read back is validated: a record the rules cannot
read is reported (``InvalidTrigger``) and never scheduled. Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.schedule import CatchUp
from neo_service_layer.services.automation.rules.triggers import Trigger, TriggerKind, from_spec, to_spec

#: the contract's events that change an upkeep (its record is read again) and the one that runs it
CHANGE_EVENTS = frozenset(
    {"UpkeepRegistered", "UpkeepUpdated", "UpkeepStateChanged", "UpkeepFunded", "UpkeepWithdrawn"}
)
PERFORMED = "UpkeepPerformed"


class UpkeepState(IntEnum):
    ACTIVE = 1
    PAUSED = 2
    CANCELLED = 3


@dataclass(frozen=True, slots=True)
class Upkeep:
    upkeep_id: int
    owner: str
    target: str
    method: str
    args: tuple[object, ...]
    trigger: Trigger
    gas_limit: int
    catch_up: CatchUp
    state: UpkeepState
    since_seconds: int
    since_block: int
    balance: int

    @property
    def trigger_kind(self) -> TriggerKind:
        return to_spec(self.trigger)[0]

    def cost_per_run(self, base_fee: int) -> int:
        """What the contract requires on the balance before a run: the gas limit plus the base fee."""
        return self.gas_limit + base_fee


@dataclass(frozen=True, slots=True)
class Performed:
    """``UpkeepPerformed``: one occurrence ran."""

    upkeep_id: int
    occurrence: int
    gas_used: int
    charged: int
    balance: int


def script_hash(value: object) -> str:
    """A UInt160 as the chain returns it (20 bytes, little-endian) in RPC form (``0x`` + big-endian)."""
    if not isinstance(value, bytes) or len(value) != 20:
        raise InvalidTrigger("a script hash must be 20 bytes")
    return "0x" + value[::-1].hex()


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTrigger(f"{what} must be an integer")
    return value


def _text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise InvalidTrigger(f"{what} is not UTF-8") from None
    raise InvalidTrigger(f"{what} must be a string")


def upkeep_from_chain(upkeep_id: int, values: Sequence[object]) -> Upkeep:
    """``getUpkeep(id)``'s array: [owner, target, method, args, kind, spec, gasLimit, catchUp, state,
    sinceSeconds, sinceBlock, balance]."""
    if len(values) != 12:
        raise InvalidTrigger(f"upkeep {upkeep_id}: expected 12 fields, got {len(values)}")
    args, spec = values[3], values[5]
    if not isinstance(args, tuple) or not isinstance(spec, tuple):
        raise InvalidTrigger(f"upkeep {upkeep_id}: args and spec must be arrays")
    try:
        state = UpkeepState(_int(values[8], "state"))
        catch_up = CatchUp.LATEST if _int(values[7], "catchUp") == 1 else CatchUp.ALL
    except ValueError as exc:
        raise InvalidTrigger(f"upkeep {upkeep_id}: {exc}") from None
    return Upkeep(
        upkeep_id=upkeep_id,
        owner=script_hash(values[0]),
        target=script_hash(values[1]),
        method=_text(values[2], "method"),
        args=args,
        trigger=from_spec(_int(values[4], "kind"), spec),
        gas_limit=_int(values[6], "gasLimit"),
        catch_up=catch_up,
        state=state,
        since_seconds=_int(values[9], "sinceSeconds"),
        since_block=_int(values[10], "sinceBlock"),
        balance=_int(values[11], "balance"),
    )


def changed_upkeeps(events: Sequence[tuple[str, tuple[object, ...]]]) -> set[int]:
    """Ids of the upkeeps a block's events (name, values) changed."""
    return {
        int(v[0]) for name, v in events if name in CHANGE_EVENTS | {PERFORMED} and v and isinstance(v[0], int)
    }


def performed_runs(events: Sequence[tuple[str, tuple[object, ...]]]) -> list[Performed]:
    """The block's ``UpkeepPerformed`` events."""
    runs = []
    for name, values in events:
        if name == PERFORMED and len(values) == 5 and all(isinstance(v, int) for v in values):
            upkeep_id, occurrence, gas_used, charged, balance = (int(v) for v in values)  # type: ignore[call-overload]
            runs.append(Performed(upkeep_id, occurrence, gas_used, charged, balance))
    return runs
