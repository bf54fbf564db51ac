"""Triggers: their own checks, the on-chain spec both ways, event matching and occurrence ids."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neo_service_layer.services.automation.rules.cron import InvalidTrigger, cron_masks, parse_cron
from neo_service_layer.services.automation.rules.triggers import (
    EVENT_SLOT,
    ArgFilter,
    ConditionTrigger,
    CronTrigger,
    EventTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
    Trigger,
    TriggerKind,
    arg_bytes,
    event_block,
    event_matches,
    event_occurrence,
    from_spec,
    run_id,
    to_spec,
)

CONTRACT = "0x" + bytes(range(1, 21)).hex()  # 0x0102...14
SCRIPT_HASH_LE = bytes(range(20, 0, -1))

TRIGGERS: list[Trigger] = [
    CronTrigger.parse("*/5 9-17 * * MON-FRI"),
    CronTrigger.parse("0 0 1 * *"),
    IntervalSecondsTrigger(10),
    IntervalSecondsTrigger(366 * 86_400),
    IntervalBlocksTrigger(1),
    IntervalBlocksTrigger(1_000_000),
    EventTrigger(CONTRACT, "Transfer"),
    EventTrigger(CONTRACT, "Transfer", (ArgFilter(2, b""), ArgFilter(0, b"\x01" * 64))),
    EventTrigger(CONTRACT, "x" * 32, tuple(ArgFilter(i, bytes([i])) for i in (0, 5, 10, 15))),
    ConditionTrigger("check", 1),
    ConditionTrigger("_Check_2", 100),
]


def test_kinds_have_the_contract_numbers() -> None:
    assert [int(k) for k in TriggerKind] == [1, 2, 3, 4, 5]
    assert [k.name for k in TriggerKind] == [
        "CRON",
        "INTERVAL_SECONDS",
        "INTERVAL_BLOCKS",
        "EVENT",
        "CONDITION",
    ]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=repr)
def test_spec_round_trip(trigger: Trigger) -> None:
    kind, spec = to_spec(trigger)
    assert from_spec(int(kind), spec) == trigger
    assert from_spec(kind, tuple(spec)) == trigger


def test_spec_layouts() -> None:
    cron = CronTrigger.parse(" 0 12 * * * ")
    assert to_spec(cron) == (TriggerKind.CRON, [*cron_masks(parse_cron("0 12 * * *")), "0 12 * * *"])
    assert to_spec(IntervalSecondsTrigger(60)) == (TriggerKind.INTERVAL_SECONDS, [60])
    assert to_spec(IntervalBlocksTrigger(7)) == (TriggerKind.INTERVAL_BLOCKS, [7])
    event = EventTrigger(CONTRACT, "Paid", (ArgFilter(1, b"ab"), ArgFilter(3, b"")))
    assert to_spec(event) == (TriggerKind.EVENT, [SCRIPT_HASH_LE, "Paid", 1, b"ab", 3, b""])
    assert to_spec(ConditionTrigger("ready", 5)) == (TriggerKind.CONDITION, ["ready", 5])


def test_from_spec_reads_byte_strings_as_utf8_text() -> None:
    cron = CronTrigger.parse("0 12 * * *")
    masks = list(cron.masks)
    assert from_spec(1, [*masks, b"0 12 * * *"]) == cron
    assert from_spec(4, [SCRIPT_HASH_LE, b"Paid", 1, b"ab"]) == EventTrigger(
        CONTRACT, "Paid", (ArgFilter(1, b"ab"),)
    )
    assert from_spec(5, [b"ready", 5]) == ConditionTrigger("ready", 5)


_MASKS = list(cron_masks(parse_cron("0 12 * * *")))


@pytest.mark.parametrize(
    ("kind", "spec", "message"),
    [
        (0, [60], "unknown trigger kind 0"),
        (6, [60], "unknown trigger kind 6"),
        (True, [60], "unknown trigger kind True"),
        ("2", [60], "unknown trigger kind '2'"),
        (2, "60", "must be a list"),
        (2, b"60", "must be a list"),
        # wrong length
        (1, [*_MASKS], "stored as 7 values, got 6"),
        (1, [*_MASKS, "0 12 * * *", "x"], "stored as 7 values, got 8"),
        (2, [], "stored as 1 values, got 0"),
        (2, [60, 60], "stored as 1 values, got 2"),
        (3, [], "stored as 1 values, got 0"),
        (5, ["check"], "stored as 2 values, got 1"),
        (4, [SCRIPT_HASH_LE], "contract, event name, then index/value pairs"),
        (4, [SCRIPT_HASH_LE, "E", 1], "contract, event name, then index/value pairs"),
        (4, [SCRIPT_HASH_LE, "E", *([0, b""] * 5)], "at most 4 filters"),
        # wrong types
        (1, [*_MASKS[:5], "3", "0 12 * * *"], "mask 5 is not a non-negative integer"),
        (1, [*_MASKS, 12], "the cron expression must be a string"),
        (2, ["60"], "interval seconds must be an integer"),
        (2, [True], "interval seconds must be an integer"),
        (2, [b"\x3c"], "interval seconds must be an integer"),
        (3, [None], "interval blocks must be an integer"),
        (5, [7, 5], "the condition method must be a string"),
        (5, ["check", "5"], "condition every_blocks must be an integer"),
        (4, [CONTRACT, "E"], "20-byte script hash"),
        (4, [SCRIPT_HASH_LE[:19], "E"], "20-byte script hash"),
        (4, [SCRIPT_HASH_LE, 5], "the event name must be a string"),
        (4, [SCRIPT_HASH_LE, "E", "0", b""], "event filter index must be an integer"),
        (4, [SCRIPT_HASH_LE, "E", 0, "abc"], "event filter 0: the value must be bytes"),
        # out of range
        (2, [9], "interval seconds 9 is out of range 10-31622400"),
        (2, [366 * 86_400 + 1], "out of range"),
        (3, [0], "interval blocks 0 is out of range 1-1000000"),
        (3, [1_000_001], "out of range"),
        (3, [-1], "out of range"),
        (5, ["check", 0], "condition every_blocks 0 is out of range"),
        (4, [SCRIPT_HASH_LE, "E", 16, b""], "event filter index 16 is out of range 0-15"),
        (4, [SCRIPT_HASH_LE, "E", -1, b""], "event filter index -1 is out of range"),
        (4, [SCRIPT_HASH_LE, "E", 0, b"x" * 65], "more than 64 bytes"),
        (4, [SCRIPT_HASH_LE, "E", 1, b"", 1, b"a"], "argument 1 is filtered twice"),
        (4, [SCRIPT_HASH_LE, "", 0, b""], "event name must be 1-32 printable ASCII"),
        (4, [SCRIPT_HASH_LE, "x" * 33], "event name must be 1-32 printable ASCII"),
        (4, [SCRIPT_HASH_LE, "Tr\u00e4nsfer"], "event name must be 1-32 printable ASCII"),
        (4, [SCRIPT_HASH_LE, "a\nb"], "event name must be 1-32 printable ASCII"),
        (5, ["", 5], "condition method must be 1-32"),
        (5, ["1check", 5], "condition method must be 1-32"),
        (5, ["check-it", 5], "condition method must be 1-32"),
        (5, ["c" * 33, 5], "condition method must be 1-32"),
        # cron masks and expression
        (1, [0, *_MASKS[1:], "0 12 * * *"], "minute mask is empty"),
        (1, [*_MASKS[:4], 1 << 7, 0, "0 12 * * *"], "day-of-week mask has bits outside 0-6"),
        (1, [*_MASKS, "0 13 * * *"], "do not match the expression '0 13 * * *'"),
        (1, [*_MASKS, "0 24 * * *"], "cron field 2 (hour): 24 is out of range 0-23"),
        (1, [*_MASKS, "@daily"], "macros"),
        (1, [*_MASKS, "0 12 * * *" + " " * 200], "at most 200 characters"),
        # not UTF-8
        (1, [*_MASKS, b"0 12 * * \xff"], "the cron expression is not UTF-8"),
        (4, [SCRIPT_HASH_LE, b"\xc3\x28"], "the event name is not UTF-8"),
        (5, [b"\xffcheck", 5], "the condition method is not UTF-8"),
    ],
)
def test_from_spec_refuses_malformed_specs(kind: object, spec: Sequence[object], message: str) -> None:
    with pytest.raises(InvalidTrigger, match=re.escape(message)):
        from_spec(kind, spec)  # type: ignore[arg-type]


@given(
    st.integers(min_value=1, max_value=5),
    st.lists(
        st.one_of(st.integers(), st.binary(max_size=70), st.text(max_size=40), st.none(), st.booleans()),
        max_size=10,
    ),
)
def test_from_spec_on_garbage_either_refuses_or_round_trips(kind: int, spec: list[object]) -> None:
    try:
        trigger = from_spec(kind, spec)
    except InvalidTrigger:
        return
    assert from_spec(*to_spec(trigger)) == trigger


_NOT_BYTES: Any = "x"
_LIST_OF_FILTERS: Any = [ArgFilter(0, b"")]
_NOT_FILTERS: Any = ("x",)
_BOOL: Any = True


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: IntervalSecondsTrigger(9), "out of range 10-"),
        (lambda: IntervalBlocksTrigger(0), "out of range 1-"),
        (lambda: ArgFilter(0, _NOT_BYTES), "must be bytes"),
        (lambda: EventTrigger("0x" + "AB" * 20, "E"), "40 lowercase hex"),
        (lambda: EventTrigger("ab" * 21, "E"), "40 lowercase hex"),
        (lambda: EventTrigger(CONTRACT, "E", _LIST_OF_FILTERS), "a tuple"),
        (
            lambda: EventTrigger(CONTRACT, "E", tuple(ArgFilter(i, b"") for i in range(5))),
            "at most 4 filters",
        ),
        (lambda: EventTrigger(CONTRACT, "E", _NOT_FILTERS), "ArgFilter"),
        (lambda: ConditionTrigger("ok", _BOOL), "must be an integer"),
        (lambda: CronTrigger((1, 1, 2, 2, 1, 0), "0 0 1 1 *"), "do not match"),
        (lambda: CronTrigger.parse("61 * * * *"), "cron field 1 (minute): 61 is out of range"),
    ],
)
def test_an_invalid_trigger_cannot_be_built(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidTrigger, match=re.escape(message)):
        build()


def test_cron_trigger_gives_its_schedule() -> None:
    trigger = CronTrigger.parse("0 0 1 * MON")
    assert trigger.schedule == parse_cron("0 0 1 * MON")
    # equivalent expressions give the same masks, so either text is accepted with them
    assert CronTrigger(trigger.masks, "0 0 1 * 1").masks == trigger.masks


# --- event matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b""),
        (1, b"\x01"),
        (-1, b"\xff"),
        (127, b"\x7f"),
        (128, b"\x80\x00"),
        (255, b"\xff\x00"),
        (256, b"\x00\x01"),
        (-128, b"\x80"),
        (-129, b"\x7f\xff"),
        (-256, b"\x00\xff"),
        (True, b"\x01"),
        (False, b"\x00"),
        ("h\u00e9", b"h\xc3\xa9"),
        (b"\x00\x01", b"\x00\x01"),
        (bytearray(b"ab"), b"ab"),
        (None, None),
        (1.0, None),
        ([1], None),
    ],
)
def test_arg_bytes_is_neos_encoding(value: object, encoded: bytes | None) -> None:
    assert arg_bytes(value) == encoded


@given(st.integers(min_value=-(2**255), max_value=2**255))
def test_int_encoding_is_minimal_and_round_trips(n: int) -> None:
    encoded = arg_bytes(n)
    assert encoded is not None
    assert int.from_bytes(encoded, "little", signed=True) == n
    if n != 0:
        # one byte fewer would not hold the number with its sign
        assert int.from_bytes(encoded[:-1], "little", signed=True) != n


@pytest.mark.parametrize(
    ("filter_value", "arg", "matches"),
    [
        (b"", 0, True),
        (b"\x00", 0, False),  # 0 is the empty byte string in Neo, not a zero byte
        (b"\xff", -1, True),
        (b"\xff", 255, False),
        (b"\xff\x00", 255, True),
        (b"\x00\x01", 256, True),
        (b"\x01", 256, False),
        (b"\x01", True, True),
        (b"\x01", 1, True),
        (b"\x00", False, True),
        (b"abc", "abc", True),
        (b"abc", b"abc", True),
        (b"abc", "abd", False),
        (b"", None, False),
        (b"", [], False),
    ],
)
def test_event_filters(filter_value: bytes, arg: object, matches: bool) -> None:
    trigger = EventTrigger(CONTRACT, "Paid", (ArgFilter(1, filter_value),))
    assert event_matches(trigger, CONTRACT, "Paid", ("first", arg, "third")) is matches


def test_event_contract_name_and_missing_arguments() -> None:
    trigger = EventTrigger(CONTRACT, "Paid", (ArgFilter(0, b"a"), ArgFilter(2, b"c")))
    assert event_matches(trigger, CONTRACT, "Paid", ("a", "b", "c"))
    assert event_matches(trigger, CONTRACT.upper().replace("0X", "0x"), "Paid", ("a", "b", "c"))
    assert not event_matches(trigger, "0x" + "00" * 20, "Paid", ("a", "b", "c"))
    assert not event_matches(trigger, CONTRACT, "paid", ("a", "b", "c"))
    assert not event_matches(trigger, CONTRACT, "Paid", ("a", "b"))  # argument 2 absent
    assert not event_matches(trigger, CONTRACT, "Paid", ("a", "x", "d"))
    unfiltered = EventTrigger(CONTRACT, "Paid")
    assert event_matches(unfiltered, CONTRACT, "Paid", ())


# --- occurrences and run ids ----------------------------------------------------------------------


def test_event_occurrences_order_by_block_then_position() -> None:
    assert event_occurrence(0, 0) == 0
    assert event_occurrence(12, 3) == 12 * EVENT_SLOT + 3
    assert event_occurrence(12, EVENT_SLOT - 1) < event_occurrence(13, 0)
    assert event_block(event_occurrence(12, 999_999)) == 12
    assert event_block(event_occurrence(7_000_000, 0)) == 7_000_000
    with pytest.raises(ValueError, match="ordinal"):
        event_occurrence(12, EVENT_SLOT)
    with pytest.raises(ValueError, match="ordinal"):
        event_occurrence(12, -1)
    with pytest.raises(ValueError, match="block"):
        event_occurrence(-1, 0)


def test_run_id_is_the_documented_hash() -> None:
    expected = int.from_bytes(hashlib.sha256(b"42:1767225600").digest()[:7], "big")
    assert run_id(42, 1_767_225_600) == expected
    assert 0 <= run_id(42, 1_767_225_600) < 2**56
    assert run_id(42, 1) != run_id(4, 21)  # the separator keeps (42, 1) and (4, 21) apart
    ids = {run_id(u, o) for u in range(50) for o in range(200)}
    assert len(ids) == 50 * 200
