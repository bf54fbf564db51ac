"""The automation rules around a run: event data as StdLib serializes it, upkeep records read from the chain,
what a faulting dry run becomes, and triggers shown and read back by the status API."""

from __future__ import annotations

import pytest

from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.display import describe_trigger, trigger_from_description
from neo_service_layer.services.automation.rules.retry import MAX_FAULTS, backoff, final, skip_reason
from neo_service_layer.services.automation.rules.schedule import CatchUp, SkipReason
from neo_service_layer.services.automation.rules.stack_items import NotSerializable, integer_bytes, serialize
from neo_service_layer.services.automation.rules.triggers import (
    ArgFilter,
    ConditionTrigger,
    CronTrigger,
    EventTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
    TriggerKind,
    to_spec,
)
from neo_service_layer.services.automation.rules.upkeeps import (
    Performed,
    UpkeepState,
    changed_upkeeps,
    performed_runs,
    upkeep_from_chain,
)

OWNER = bytes(range(20))
TARGET = bytes(range(20, 40))


def test_integers_are_neo_minimal_twos_complement() -> None:
    # the cases are in test_triggers.py (arg_bytes uses integer_bytes); here the round trip at the edges
    for value in (2**63, -(2**63), 2**255 - 1, -(2**255)):
        assert int.from_bytes(integer_bytes(value), "little", signed=True) == value
    assert integer_bytes(2**63) == b"\x00" * 7 + b"\x80\x00"


def test_event_values_serialize_as_stdlib_does() -> None:
    # StdLib.serialize([3, "ping"]) on neo-go: Array(2) Integer(1: 03) ByteString(4: "ping")
    assert serialize((3, b"ping")) == bytes.fromhex("4002210103280470696e67")
    assert serialize((3, "ping")) == serialize((3, b"ping"))  # a string is a byte string
    assert serialize((True, None, ())) == bytes.fromhex("40032001004000")  # Null is its type byte alone
    assert serialize(b"x" * 300)[:4] == b"\x28\xfd\x2c\x01"  # var-int length above 252


def test_maps_floats_and_deep_nesting_are_not_serializable() -> None:
    for value in ({1: 2}, 1.5, ((((((((((1,),),),),),),),),),)):
        with pytest.raises(NotSerializable):
            serialize(value)


def _record(
    kind: TriggerKind, spec: list[object], *, state: int = 1, catch_up: int = 0
) -> tuple[object, ...]:
    return (
        OWNER,
        TARGET,
        b"tick",
        (),
        int(kind),
        tuple(spec),
        10**8,
        catch_up,
        state,
        1_700_000_000,
        42,
        5 * 10**8,
    )


def test_an_upkeep_record_is_read_back_with_its_trigger() -> None:
    kind, spec = to_spec(CronTrigger.parse("*/5 * * * *"))
    upkeep = upkeep_from_chain(7, _record(kind, spec, catch_up=1))
    assert upkeep.owner == "0x" + OWNER[::-1].hex()
    assert upkeep.target == "0x" + TARGET[::-1].hex()
    assert (upkeep.method, upkeep.gas_limit, upkeep.balance, upkeep.since_block) == (
        "tick",
        10**8,
        5 * 10**8,
        42,
    )
    assert upkeep.catch_up is CatchUp.LATEST
    assert upkeep.state is UpkeepState.ACTIVE
    assert upkeep.trigger == CronTrigger.parse("*/5 * * * *")
    assert upkeep.trigger_kind is TriggerKind.CRON
    assert upkeep.cost_per_run(10**7) == 10**8 + 10**7


@pytest.mark.parametrize(
    "record",
    [
        (),  # too short
        _record(TriggerKind.INTERVAL_SECONDS, [5]),  # below the 10 s minimum
        _record(TriggerKind.INTERVAL_BLOCKS, [3], state=9),  # unknown state
        (b"short", TARGET, b"tick", (), 3, (3,), 1, 0, 1, 0, 0, 0),  # an owner that is no script hash
        (OWNER, TARGET, b"\xff\xfe", (), 3, (3,), 1, 0, 1, 0, 0, 0),  # a method that is not UTF-8
        (OWNER, TARGET, b"tick", (), 3, 3, 1, 0, 1, 0, 0, 0),  # a spec that is not an array
        (OWNER, TARGET, b"tick", (), 3, (3,), True, 0, 1, 0, 0, 0),  # a boolean where an integer goes
    ],
)
def test_a_record_the_rules_cannot_read_is_refused_with_a_reason(record: tuple[object, ...]) -> None:
    with pytest.raises(InvalidTrigger) as refused:
        upkeep_from_chain(3, record)
    assert str(refused.value)


def test_the_contract_events_say_which_upkeeps_changed_and_what_ran() -> None:
    events = [
        ("UpkeepRegistered", (1, OWNER, TARGET, "tick", 3)),
        ("UpkeepFunded", (2, 10, 10)),
        ("Transfer", (OWNER, TARGET, 5)),
        ("UpkeepPerformed", (2, 40, 30_000_000, 40_000_000, 60)),
        ("UpkeepPerformed", (2, b"garbage", 1, 1, 1)),
    ]
    assert changed_upkeeps(events) == {1, 2}
    assert performed_runs(events) == [Performed(2, 40, 30_000_000, 40_000_000, 60)]


@pytest.mark.parametrize(
    ("exception", "reason", "fails_now"),
    [
        (
            "ASSERTMSG ... Reason: balance too low for a run (gasLimit + baseFee)",
            SkipReason.BALANCE_TOO_LOW,
            False,
        ),
        ("ASSERTMSG ... Reason: the run exceeded its gasLimit", SkipReason.GAS_LIMIT, False),
        ("ASSERTMSG ... Reason: condition is false", SkipReason.CONDITION_FALSE, True),
        ("ASSERTMSG ... Reason: upkeep is not active", SkipReason.PAUSED, True),
        ("ASSERTMSG ... Reason: occurrence already performed", SkipReason.DRY_RUN_FAULTED, True),
        ("ASSERTMSG ... Reason: occurrence is not due yet", SkipReason.DRY_RUN_FAULTED, False),
        ("the target's own THROW", SkipReason.DRY_RUN_FAULTED, False),
        (None, SkipReason.DRY_RUN_FAULTED, False),
    ],
)
def test_a_faulting_dry_run_is_retried_unless_waiting_cannot_help(
    exception: str | None, reason: SkipReason, fails_now: bool
) -> None:
    assert skip_reason(exception) is reason
    assert final(exception, 1) is fails_now
    assert final(exception, MAX_FAULTS)  # and never more than MAX_FAULTS times


def test_retries_back_off_and_never_spin() -> None:
    waits = [backoff(n) for n in range(1, MAX_FAULTS + 1)]
    assert waits == sorted(waits)
    assert waits[0] >= 5.0


@pytest.mark.parametrize(
    "trigger",
    [
        CronTrigger.parse("0 12 * * MON-FRI"),
        IntervalSecondsTrigger(30),
        IntervalBlocksTrigger(4),
        ConditionTrigger("ready", 2),
    ],
)
def test_the_status_shows_a_trigger_it_can_read_back(trigger: object) -> None:
    shown = describe_trigger(trigger)  # type: ignore[arg-type]
    assert trigger_from_description(shown) == trigger


def test_an_event_trigger_is_shown_with_its_filters() -> None:
    trigger = EventTrigger("0x" + "ab" * 20, "Transfer", (ArgFilter(1, b"\x01\x02"),))
    assert describe_trigger(trigger) == {
        "kind": "event",
        "contract": "0x" + "ab" * 20,
        "event": "Transfer",
        "filters": [{"index": 1, "value": "0102"}],
    }
    assert trigger_from_description({"kind": "what"}) is None
