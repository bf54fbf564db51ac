"""The block triggers of tenant jobs: an N3 notification of a contract (event) and a read-only call
that holds (condition), their occurrences and what a run's webhook is told about them.

- an **event** job runs once per matching notification (HALT executions only) of its contract: the
  occurrence is ``block * 10**6 + position`` of the notification among the contract's notifications in
  that block (:func:`triggers.event_occurrence`, as for upkeeps), however many arrive in one block;
- a **condition** job test-invokes ``contract.method(*args)`` at the heights ``start + k * every``
  (k >= 1); a truthy answer (:func:`condition_result`) runs with its data, the occurrence is the height.

Values reach the receiver as JSON (:func:`json_safe`): byte strings as **base64** (what Neo's RPC
shows), arrays as lists. Standard library only.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.schedule import CatchUp
from neo_service_layer.services.automation.rules.triggers import (
    MAX_FILTER_INDEX,
    MAX_FILTERS,
    MAX_INTERVAL_BLOCKS,
    arg_bytes,
)

#: the longest event or method name a job accepts
MAX_JOB_NAME = 64
#: the most arguments of a condition's call, and the longest string argument or filter value
MAX_ARGS = 16
MAX_SCALAR = 256
#: the largest integer a filter or argument takes (what JSON carries exactly)
MAX_SAFE_INT = 2**53

_CONTRACT = re.compile(r"0x[0-9a-fA-F]{40}")
_METHOD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

type Scalar = str | int | bool | None


def _contract(value: object) -> str:
    if not isinstance(value, str) or not _CONTRACT.fullmatch(value):
        raise InvalidTrigger("the contract must be 0x followed by 40 hex digits")
    return value.lower()


_HASH160 = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _scalar(value: object, what: str, *, allow_none: bool) -> Scalar:
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise InvalidTrigger(f"{what} is out of range ±2^53")
        return value
    if isinstance(value, str):
        if len(value) > MAX_SCALAR:
            raise InvalidTrigger(f"{what} has more than {MAX_SCALAR} characters")
        return value
    raise InvalidTrigger(f"{what} must be a string, an integer or a boolean")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """The notification's argument ``index`` equals ``value`` in Neo's byte encoding (integers as
    minimal little-endian two's complement, booleans one byte, strings UTF-8; a script hash or address
    as its 20 bytes, little-endian, as ``Transfer`` carries ``from`` and ``to``)."""

    index: int
    value: str | int | bool | bytes

    def __post_init__(self) -> None:
        if not isinstance(self.index, int) or isinstance(self.index, bool):
            raise InvalidTrigger("an event filter's index must be an integer")
        if not 0 <= self.index <= MAX_FILTER_INDEX:
            raise InvalidTrigger(f"an event filter's index must be 0-{MAX_FILTER_INDEX}")
        if isinstance(self.value, bytes):
            if len(self.value) != 20:
                raise InvalidTrigger(f"event filter {self.index}: a hash160 is 20 bytes")
        else:
            _scalar(self.value, f"event filter {self.index}", allow_none=False)

    def as_dict(self) -> dict[str, Any]:
        if isinstance(self.value, bytes):
            return {"index": self.index, "hash160": "0x" + self.value[::-1].hex()}
        return {"index": self.index, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventFilter:
        hash160 = data.get("hash160")
        if hash160 is None:
            return cls(data.get("index"), data.get("value"))  # type: ignore[arg-type]
        if not isinstance(hash160, str) or not _HASH160.fullmatch(hash160):
            raise InvalidTrigger("a hash160 filter is 0x and 40 hex digits")
        return cls(data.get("index"), bytes.fromhex(hash160[2:])[::-1])  # type: ignore[arg-type]

    def matches(self, values: tuple[object, ...]) -> bool:
        if self.index >= len(values):
            return False
        encoded = arg_bytes(values[self.index])
        return encoded is not None and encoded == arg_bytes(self.value)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Every HALTed notification ``name`` of ``contract`` passing all the filters."""

    contract: str
    name: str
    filters: tuple[EventFilter, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "contract", _contract(self.contract))
        if (
            not isinstance(self.name, str)
            or not 1 <= len(self.name) <= MAX_JOB_NAME
            or not (self.name.isascii() and self.name.isprintable())
        ):
            raise InvalidTrigger(f"the event name must be 1-{MAX_JOB_NAME} printable ASCII characters")
        if not isinstance(self.filters, tuple) or len(self.filters) > MAX_FILTERS:
            raise InvalidTrigger(f"an event trigger has at most {MAX_FILTERS} filters")
        indexes = [f.index for f in self.filters if isinstance(f, EventFilter)]
        if len(indexes) != len(self.filters):
            raise InvalidTrigger("event filters must be EventFilter values")
        if len(set(indexes)) != len(indexes):
            raise InvalidTrigger("an event argument is filtered twice")

    def matches(self, contract: str, name: str, values: tuple[object, ...]) -> bool:
        return (
            contract.lower() == self.contract
            and name == self.name
            and all(f.matches(values) for f in self.filters)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "name": self.name,
            "filters": [f.as_dict() for f in self.filters],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobEvent:
        filters = data.get("filters") or []
        if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
            raise InvalidTrigger("event filters must be a list of {index, value}")
        return cls(
            data.get("contract"),  # type: ignore[arg-type]
            data.get("name"),  # type: ignore[arg-type]
            tuple(EventFilter.from_dict(f) for f in filters),
        )


@dataclass(frozen=True, slots=True)
class JobCondition:
    """Test-invoke ``contract.method(*args)`` every ``every_blocks`` blocks after the job's start."""

    contract: str
    method: str
    every_blocks: int
    args: tuple[Scalar, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "contract", _contract(self.contract))
        if (
            not isinstance(self.method, str)
            or len(self.method) > MAX_JOB_NAME
            or not _METHOD.fullmatch(self.method)
        ):
            raise InvalidTrigger(
                f"the condition's method must be 1-{MAX_JOB_NAME} characters: a letter or _, "
                "then letters, digits or _"
            )
        if not isinstance(self.every_blocks, int) or isinstance(self.every_blocks, bool):
            raise InvalidTrigger("everyBlocks must be an integer")
        if not 1 <= self.every_blocks <= MAX_INTERVAL_BLOCKS:
            raise InvalidTrigger(f"everyBlocks must be 1-{MAX_INTERVAL_BLOCKS}")
        if not isinstance(self.args, tuple) or len(self.args) > MAX_ARGS:
            raise InvalidTrigger(f"a condition's call takes at most {MAX_ARGS} arguments")
        for i, arg in enumerate(self.args):
            _scalar(arg, f"argument {i}", allow_none=True)

    def on_grid(self, start: int, height: int) -> bool:
        """Whether the condition is checked at ``height`` (``start + k * every``, k >= 1)."""
        return height > start and (height - start) % self.every_blocks == 0

    def newest(self, start: int, height: int) -> int | None:
        """The newest checked height up to ``height``."""
        steps = (height - start) // self.every_blocks if height > start else 0
        return start + steps * self.every_blocks if steps >= 1 else None

    def next_after(self, start: int, height: int) -> int:
        """The first checked height strictly after ``height``."""
        return start + max(1, (height - start) // self.every_blocks + 1) * self.every_blocks

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "method": self.method,
            "args": list(self.args),
            "everyBlocks": self.every_blocks,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobCondition:
        args = data.get("args") or []
        if not isinstance(args, list):
            raise InvalidTrigger("a condition's args must be a list")
        return cls(data.get("contract"), data.get("method"), data.get("everyBlocks"), tuple(args))  # type: ignore[arg-type]


def checked_heights(condition: JobCondition, start: int, height: int, head: int, catch_up: CatchUp) -> bool:
    """Whether a scan reaching ``height`` (the head is ``head``) checks the condition there: on its
    grid, and under ``latest`` only the newest grid height up to the head (a condition reads the
    chain's state now, so checking older heights again would ask the same question)."""
    if not condition.on_grid(start, height):
        return False
    return catch_up is CatchUp.ALL or condition.newest(start, head) == height


def condition_result(value: object) -> tuple[bool, object]:
    """Whether a condition's answer holds, and its data: ``true``, a non-zero integer, a non-empty
    byte string (the value is the data), or an array ``[true, data]``. Anything else does not hold."""
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int):
        return value != 0, value if value != 0 else None
    if isinstance(value, (bytes, str)):
        return len(value) > 0, value if value else None
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] is True:
        return True, value[1]
    return False, None


def json_safe(value: object, depth: int = 0) -> Any:
    """A stack item or event value as JSON: bytes as base64, arrays as lists, maps as lists of pairs."""
    if depth > 16:
        return None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (tuple, list)):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return [[json_safe(k, depth + 1), json_safe(v, depth + 1)] for k, v in value.items()]
    return str(value)


def event_payload(
    block: int, tx_hash: str, contract: str, name: str, values: tuple[object, ...]
) -> dict[str, Any]:
    """What an event run's webhook body adds: the block, the transaction and the notification."""
    return {
        "block": block,
        "txHash": tx_hash,
        "event": {"contract": contract, "name": name, "values": json_safe(values)},
    }


def condition_payload(block: int, condition: JobCondition, data: object) -> dict[str, Any]:
    """What a condition run's webhook body adds: the height checked and the check's data."""
    return {
        "block": block,
        "condition": {"contract": condition.contract, "method": condition.method, "data": json_safe(data)},
    }
