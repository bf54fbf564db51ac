"""The block triggers of tenant jobs: which notifications an event job matches, where a condition is
checked and what holds, what the webhook is told, and that malformed triggers are refused."""

from __future__ import annotations

import base64
import json

import pytest

from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.job_triggers import (
    EventFilter,
    JobCondition,
    JobEvent,
    checked_heights,
    condition_payload,
    condition_result,
    event_payload,
    json_safe,
)
from neo_service_layer.services.automation.rules.jobs import (
    FINISHED,
    JobTrigger,
    RunStatus,
    due_occurrences,
    next_occurrence,
    webhook_body,
)
from neo_service_layer.services.automation.rules.schedule import CatchUp

C = "0x" + "ab" * 20


def test_an_event_matches_its_contract_name_and_filters_in_neo_encoding() -> None:
    trigger = JobEvent(C.upper().replace("0X", "0x"), "Ping", (EventFilter(0, 3), EventFilter(1, "ping")))
    assert trigger.contract == C  # stored lower case
    assert trigger.matches(C, "Ping", (3, b"ping"))
    assert trigger.matches(C.upper().replace("0X", "0x"), "Ping", (3, b"ping", 9))
    assert not trigger.matches(C, "Ping", (4, b"ping"))
    assert not trigger.matches(C, "Pong", (3, b"ping"))
    assert not trigger.matches("0x" + "cd" * 20, "Ping", (3, b"ping"))
    assert not trigger.matches(C, "Ping", (3,))  # the filtered argument is missing
    assert JobEvent(C, "Flag", (EventFilter(0, True),)).matches(C, "Flag", (1,))  # 1 == true in Neo bytes
    assert JobEvent(C, "Ping").matches(C, "Ping", ())


@pytest.mark.parametrize(
    "make",
    [
        lambda: JobEvent("0x" + "ab" * 19, "Ping"),
        lambda: JobEvent(C, ""),
        lambda: JobEvent(C, "x" * 65),
        lambda: JobEvent(C, "Ping\n"),
        lambda: JobEvent(C, "Ping", tuple(EventFilter(i, i) for i in range(5))),
        lambda: JobEvent(C, "Ping", (EventFilter(0, 1), EventFilter(0, 2))),
        lambda: EventFilter(16, 1),
        lambda: EventFilter(0, 2**60),
        lambda: EventFilter(0, "x" * 257),
        lambda: EventFilter(0, None),  # type: ignore[arg-type]
        lambda: JobCondition(C, "ready", 0),
        lambda: JobCondition(C, "ready", 1_000_001),
        lambda: JobCondition(C, "1ready", 1),
        lambda: JobCondition(C, "r" * 65, 1),
        lambda: JobCondition(C, "ready", 1, tuple(range(17))),
        lambda: JobCondition(C, "ready", True),
        lambda: JobTrigger(),
        lambda: JobTrigger(cron="* * * * *", event=JobEvent(C, "Ping")),
    ],
)
def test_malformed_block_triggers_are_refused(make: object) -> None:
    with pytest.raises(InvalidTrigger):
        make()  # type: ignore[operator]


def test_a_condition_is_checked_on_its_grid_and_latest_checks_only_the_newest() -> None:
    every3 = JobCondition(C, "ready", 3, ("a", 1, None))
    assert [h for h in range(100, 111) if every3.on_grid(100, h)] == [103, 106, 109]
    assert every3.newest(100, 108) == 106
    assert every3.newest(100, 102) is None
    assert every3.next_after(100, 100) == 103
    assert every3.next_after(100, 106) == 109
    # the scanner behind the head (head 110): latest checks 109 only, all checks each grid height
    assert [h for h in range(101, 111) if checked_heights(every3, 100, h, 110, CatchUp.LATEST)] == [109]
    assert [h for h in range(101, 111) if checked_heights(every3, 100, h, 110, CatchUp.ALL)] == [
        103,
        106,
        109,
    ]


@pytest.mark.parametrize(
    ("answer", "holds", "data"),
    [
        (True, True, None),
        (False, False, None),
        (7, True, 7),
        (0, False, None),
        (b"go", True, b"go"),
        (b"", False, None),
        ((True, b"armed"), True, b"armed"),
        ((False, b"armed"), False, None),
        ((1, b"x"), False, None),  # the array form needs a real true
        (None, False, None),
        ((True, b"a", b"b"), False, None),
    ],
)
def test_what_a_condition_answer_means(answer: object, holds: bool, data: object) -> None:
    assert condition_result(answer) == (holds, data)


def test_values_reach_the_receiver_as_json_with_bytes_in_base64() -> None:
    values = (3, b"\x00\xffping", True, None, (b"x", 2**70), "text")
    safe = json_safe(values)
    assert safe == [3, base64.b64encode(b"\x00\xffping").decode(), True, None, ["eA==", 2**70], "text"]
    json.dumps(safe)
    body = json.loads(
        webhook_body(
            "job_1", 12 * 10**6 + 2, {"k": 1}, event_payload(12, "0x" + "11" * 32, C, "Ping", (3, b"p"))
        )
    )
    assert body == {
        "job_id": "job_1",
        "occurrence": 12_000_002,
        "block": 12,
        "txHash": "0x" + "11" * 32,
        "event": {"contract": C, "name": "Ping", "values": [3, "cA=="]},
        "data": {"k": 1},
    }
    condition = JobCondition(C, "ready", 1)
    body = json.loads(webhook_body("job_1", 40, None, condition_payload(40, condition, b"armed")))
    assert body == {
        "job_id": "job_1",
        "occurrence": 40,
        "block": 40,
        "condition": {"contract": C, "method": "ready", "data": "YXJtZWQ="},
    }
    assert "scheduled_at" in json.loads(webhook_body("job_1", 60, None))  # a time run keeps its due time


def test_block_triggers_round_trip_and_have_no_time_occurrences() -> None:
    for trigger in (
        JobTrigger(
            event=JobEvent(C, "Ping", (EventFilter(0, 3), EventFilter(2, "t"), EventFilter(3, False)))
        ),
        JobTrigger(condition=JobCondition(C, "ready", 5, ("a", -1, True, None))),
        JobTrigger(cron="*/5 * * * *"),
        JobTrigger(every_seconds=60),
    ):
        assert JobTrigger.from_dict(json.loads(json.dumps(trigger.as_dict()))) == trigger
    event = JobTrigger(event=JobEvent(C, "Ping"))
    assert (event.on_blocks, event.kind) == (True, "event")
    assert JobTrigger(condition=JobCondition(C, "ready", 5)).kind == "condition"
    assert due_occurrences(event, 100, 100, 10**9, CatchUp.ALL) == ([], [])
    assert next_occurrence(event, 100, 10**9) is None
    with pytest.raises(InvalidTrigger):
        event.schedule()
    with pytest.raises(InvalidTrigger):
        JobTrigger.from_dict({"event": {"contract": C, "name": "Ping", "filters": [1]}})
    assert RunStatus.PENDING not in FINISHED
    assert RunStatus.RETRYING not in FINISHED


def test_a_hash160_filter_matches_an_account_argument_as_transfer_carries_it() -> None:
    account = "0x" + "01" * 19 + "ff"  # as nodes show it: big-endian
    little_endian = bytes.fromhex(account[2:])[::-1]
    trigger = JobEvent.from_dict(
        {"contract": C, "name": "Transfer", "filters": [{"index": 1, "hash160": account}]}
    )
    assert trigger.matches(C, "Transfer", (b"\x02" * 20, little_endian, 5))
    assert not trigger.matches(C, "Transfer", (b"\x02" * 20, little_endian[::-1], 5))
    assert not trigger.matches(C, "Transfer", (little_endian, None, 5))  # a mint's `to`, burnt `from`...
    assert trigger.as_dict()["filters"] == [{"index": 1, "hash160": account}]
    for bad in ({"index": 1, "hash160": "0x12"}, {"index": 1, "hash160": 12}):
        with pytest.raises(InvalidTrigger):
            JobEvent.from_dict({"contract": C, "name": "Transfer", "filters": [bad]})
