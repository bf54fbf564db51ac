"""What makes an upkeep due (cron, interval, event, condition) and its on-chain form.

The automation contract stores a trigger as a kind and a flat list (:func:`to_spec`). Anyone can register
an upkeep on chain, so :func:`from_spec` treats a stored list as untrusted input and every dataclass
checks its own fields: an invalid trigger cannot be built.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from neo_service_layer.services.automation.rules.cron import (
    MAX_CRON_LENGTH,
    CronSchedule,
    InvalidTrigger,
    cron_masks,
    parse_cron,
    schedule_from_masks,
)
from neo_service_layer.services.automation.rules.stack_items import integer_bytes

MIN_INTERVAL_SECONDS = 10
MAX_INTERVAL_SECONDS = 366 * 86_400
MAX_INTERVAL_BLOCKS = 1_000_000
MAX_FILTERS = 4
MAX_FILTER_INDEX = 15
MAX_FILTER_VALUE = 64
MAX_NAME = 32
EVENT_SLOT = 1_000_000

_CONTRACT = re.compile(r"0x[0-9a-f]{40}")
_METHOD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TriggerKind(IntEnum):
    CRON = 1
    INTERVAL_SECONDS = 2
    INTERVAL_BLOCKS = 3
    EVENT = 4
    CONDITION = 5


_KINDS = frozenset(k.value for k in TriggerKind)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: object, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidTrigger(f"{what} must be an integer")
    if not low <= value <= high:
        raise InvalidTrigger(f"{what} {value} is out of range {low}-{high}")
    return value


@dataclass(frozen=True, slots=True)
class CronTrigger:
    """A cron schedule: the masks the contract matches and the expression they were parsed from."""

    masks: tuple[int, ...]
    expression: str

    def __post_init__(self) -> None:
        schedule = schedule_from_masks(self.masks)
        if cron_masks(parse_cron(self.expression)) != cron_masks(schedule):
            raise InvalidTrigger(f"the cron masks do not match the expression '{self.expression}'")

    @classmethod
    def parse(cls, expression: str) -> CronTrigger:
        return cls(cron_masks(parse_cron(expression)), expression.strip())

    @property
    def schedule(self) -> CronSchedule:
        return schedule_from_masks(self.masks)


@dataclass(frozen=True, slots=True)
class IntervalSecondsTrigger:
    """Due every ``seconds`` after the upkeep's start."""

    seconds: int

    def __post_init__(self) -> None:
        _check_int(self.seconds, "interval seconds", MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS)


@dataclass(frozen=True, slots=True)
class IntervalBlocksTrigger:
    """Due every ``blocks`` blocks after the upkeep's start block."""

    blocks: int

    def __post_init__(self) -> None:
        _check_int(self.blocks, "interval blocks", 1, MAX_INTERVAL_BLOCKS)


@dataclass(frozen=True, slots=True)
class ArgFilter:
    """The event's argument ``index`` must equal ``value`` in Neo's byte encoding (:func:`arg_bytes`)."""

    index: int
    value: bytes

    def __post_init__(self) -> None:
        _check_int(self.index, "event filter index", 0, MAX_FILTER_INDEX)
        if not isinstance(self.value, bytes):
            raise InvalidTrigger(f"event filter {self.index}: the value must be bytes")
        if len(self.value) > MAX_FILTER_VALUE:
            raise InvalidTrigger(
                f"event filter {self.index}: the value has more than {MAX_FILTER_VALUE} bytes"
            )


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """Every notification ``event`` of ``contract`` (0x + 40 lowercase hex) passing the filters."""

    contract: str
    event: str
    filters: tuple[ArgFilter, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.contract, str) or not _CONTRACT.fullmatch(self.contract):
            raise InvalidTrigger("the event's contract must be 0x followed by 40 lowercase hex digits")
        if (
            not isinstance(self.event, str)
            or not 1 <= len(self.event) <= MAX_NAME
            or not (self.event.isascii() and self.event.isprintable())
        ):
            raise InvalidTrigger(f"the event name must be 1-{MAX_NAME} printable ASCII characters")
        if not isinstance(self.filters, tuple):
            raise InvalidTrigger("event filters must be a tuple")
        if len(self.filters) > MAX_FILTERS:
            raise InvalidTrigger(f"an event trigger has at most {MAX_FILTERS} filters")
        seen: set[int] = set()
        for f in self.filters:
            if not isinstance(f, ArgFilter):
                raise InvalidTrigger("event filters must be ArgFilter values")
            if f.index in seen:
                raise InvalidTrigger(f"event argument {f.index} is filtered twice")
            seen.add(f.index)


@dataclass(frozen=True, slots=True)
class ConditionTrigger:
    """Test-invoke ``method`` on the target every ``every_blocks`` blocks; a truthy result fires a run."""

    method: str
    every_blocks: int

    def __post_init__(self) -> None:
        if (
            not isinstance(self.method, str)
            or len(self.method) > MAX_NAME
            or not _METHOD.fullmatch(self.method)
        ):
            raise InvalidTrigger(
                f"the condition method must be 1-{MAX_NAME} characters: a letter or _, "
                "then letters, digits or _"
            )
        _check_int(self.every_blocks, "condition every_blocks", 1, MAX_INTERVAL_BLOCKS)


type Trigger = CronTrigger | IntervalSecondsTrigger | IntervalBlocksTrigger | EventTrigger | ConditionTrigger


def to_spec(trigger: Trigger) -> tuple[TriggerKind, list[int | bytes | str]]:
    """The kind and flat list the contract stores (event contract as its little-endian script hash)."""
    match trigger:
        case CronTrigger(masks=masks, expression=expression):
            return TriggerKind.CRON, [*masks, expression]
        case IntervalSecondsTrigger(seconds=seconds):
            return TriggerKind.INTERVAL_SECONDS, [seconds]
        case IntervalBlocksTrigger(blocks=blocks):
            return TriggerKind.INTERVAL_BLOCKS, [blocks]
        case EventTrigger(contract=contract, event=event, filters=filters):
            spec: list[int | bytes | str] = [bytes.fromhex(contract[2:])[::-1], event]
            for f in filters:
                spec += [f.index, f.value]
            return TriggerKind.EVENT, spec
        case ConditionTrigger(method=method, every_blocks=every):
            return TriggerKind.CONDITION, [method, every]


def _text(value: object, what: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidTrigger(f"{what} is not UTF-8") from None
    if isinstance(value, str):
        return value
    raise InvalidTrigger(f"{what} must be a string")


def _length(spec: Sequence[object], kind: TriggerKind, expected: int) -> None:
    if len(spec) != expected:
        raise InvalidTrigger(f"a {kind.name} trigger is stored as {expected} values, got {len(spec)}")


def from_spec(kind: int, spec: Sequence[object]) -> Trigger:
    """The trigger stored on chain; :class:`InvalidTrigger` says what is malformed."""
    if not _is_int(kind) or kind not in _KINDS:
        raise InvalidTrigger(f"unknown trigger kind {kind!r}")
    if not isinstance(spec, (list, tuple)):
        raise InvalidTrigger("a stored trigger must be a list")
    k = TriggerKind(kind)
    if k is TriggerKind.CRON:
        _length(spec, k, 7)
        expression = _text(spec[6], "the cron expression")
        if len(expression) > MAX_CRON_LENGTH:
            raise InvalidTrigger(f"a cron expression has at most {MAX_CRON_LENGTH} characters")
        masks = spec[:6]
        schedule_from_masks(masks)  # checks the types before the tuple is typed as ints
        return CronTrigger(tuple(m for m in masks if isinstance(m, int)), expression)
    if k is TriggerKind.INTERVAL_SECONDS:
        _length(spec, k, 1)
        return IntervalSecondsTrigger(
            _check_int(spec[0], "interval seconds", MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS)
        )
    if k is TriggerKind.INTERVAL_BLOCKS:
        _length(spec, k, 1)
        return IntervalBlocksTrigger(_check_int(spec[0], "interval blocks", 1, MAX_INTERVAL_BLOCKS))
    if k is TriggerKind.CONDITION:
        _length(spec, k, 2)
        return ConditionTrigger(
            _text(spec[0], "the condition method"),
            _check_int(spec[1], "condition every_blocks", 1, MAX_INTERVAL_BLOCKS),
        )
    return _event_from_spec(spec)


def _event_from_spec(spec: Sequence[object]) -> EventTrigger:
    if len(spec) < 2 or len(spec) % 2:
        raise InvalidTrigger("an EVENT trigger is stored as contract, event name, then index/value pairs")
    if len(spec) > 2 + 2 * MAX_FILTERS:
        raise InvalidTrigger(f"an event trigger has at most {MAX_FILTERS} filters")
    script_hash = spec[0]
    if not isinstance(script_hash, bytes) or len(script_hash) != 20:
        raise InvalidTrigger("the event's contract must be a 20-byte script hash")
    filters: list[ArgFilter] = []
    for i in range(2, len(spec), 2):
        value = spec[i + 1]
        if not isinstance(value, bytes):
            raise InvalidTrigger(f"event filter {(i - 2) // 2}: the value must be bytes")
        filters.append(ArgFilter(_check_int(spec[i], "event filter index", 0, MAX_FILTER_INDEX), value))
    return EventTrigger("0x" + script_hash[::-1].hex(), _text(spec[1], "the event name"), tuple(filters))


def arg_bytes(value: object) -> bytes | None:
    """An event argument as Neo encodes it as a byte string; None for a type a filter never matches.

    Integers are minimal little-endian two's complement (0 is empty), booleans one byte, strings UTF-8.
    """
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return integer_bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return None


def event_matches(trigger: EventTrigger, contract: str, name: str, values: tuple[object, ...]) -> bool:
    """Whether a notification (emitting contract, event name, arguments) fires ``trigger``."""
    if contract.lower() != trigger.contract or name != trigger.event:
        return False
    for f in trigger.filters:
        if f.index >= len(values):
            return False
        encoded = arg_bytes(values[f.index])
        if encoded is None or encoded != f.value:
            return False
    return True


def event_occurrence(block: int, ordinal: int) -> int:
    """One occurrence per matching notification: the block, then its position among the contract's ones."""
    if block < 0:
        raise ValueError("block must not be negative")
    if not 0 <= ordinal < EVENT_SLOT:
        raise ValueError(f"notification ordinal must be 0-{EVENT_SLOT - 1}")
    return block * EVENT_SLOT + ordinal


def event_block(occurrence: int) -> int:
    """The block of an event occurrence (:func:`event_occurrence`)."""
    return occurrence // EVENT_SLOT


def run_id(upkeep_id: int, occurrence: int) -> int:
    """The pipeline's request id for one due occurrence of an upkeep: the same on every replica."""
    return int.from_bytes(hashlib.sha256(f"{upkeep_id}:{occurrence}".encode()).digest()[:7], "big")
