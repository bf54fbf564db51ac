"""What is due in a scan window, under each catch-up policy, and what the status reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neo_service_layer.services.automation.rules.schedule import (
    MAX_CATCH_UP,
    MAX_SKIPPED,
    CatchUp,
    SkipReason,
    due_block_occurrences,
    due_time_occurrences,
    lateness_blocks,
    low_balance,
    next_due,
    runs_left,
    scan_cursor,
)
from neo_service_layer.services.automation.rules.triggers import (
    ArgFilter,
    ConditionTrigger,
    CronTrigger,
    EventTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
)

T0 = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
HOURLY = CronTrigger.parse("0 * * * *")


def test_enum_values_are_the_stored_strings() -> None:
    assert [c.value for c in CatchUp] == ["all", "latest"]
    assert {r.value for r in SkipReason} == {
        "paused",
        "balance_too_low",
        "condition_false",
        "gas_limit",
        "dry_run_faulted",
        "missed",
        "cancelled",
    }


# --- time triggers --------------------------------------------------------------------------------


def test_interval_occurrences_count_from_since() -> None:
    trigger = IntervalSecondsTrigger(60)
    assert due_time_occurrences(trigger, T0, T0, T0 + 59, CatchUp.ALL) == ([], [])
    assert due_time_occurrences(trigger, T0, T0, T0 + 60, CatchUp.ALL) == ([T0 + 60], [])
    assert due_time_occurrences(trigger, T0, T0 + 60, T0 + 180, CatchUp.ALL) == ([T0 + 120, T0 + 180], [])
    # the window is open at its start: an occurrence at last_scanned already ran
    assert due_time_occurrences(trigger, T0, T0 + 120, T0 + 120, CatchUp.ALL) == ([], [])
    # a cursor before the upkeep's start counts from the start, and `since` itself is not an occurrence
    assert due_time_occurrences(trigger, T0, 0, T0 + 60, CatchUp.ALL) == ([T0 + 60], [])
    # a clock behind the start: nothing
    assert due_time_occurrences(trigger, T0, T0, T0 - 500, CatchUp.LATEST) == ([], [])


def test_catch_up_all_runs_the_oldest_sixteen_then_the_rest() -> None:
    trigger = IntervalSecondsTrigger(60)
    now = T0 + 40 * 60  # 40 missed
    run, skipped = due_time_occurrences(trigger, T0, T0, now, CatchUp.ALL)
    assert run == [T0 + 60 * k for k in range(1, MAX_CATCH_UP + 1)]
    assert skipped == []
    cursor = scan_cursor(run, now)
    assert cursor == run[-1]
    run2, _ = due_time_occurrences(trigger, T0, cursor, now, CatchUp.ALL)
    run3, _ = due_time_occurrences(trigger, T0, scan_cursor(run2, now), now, CatchUp.ALL)
    assert run3 == [T0 + 60 * k for k in range(33, 41)]
    assert scan_cursor(run3, now) == now
    # every occurrence exactly once, in order
    assert run + run2 + run3 == [T0 + 60 * k for k in range(1, 41)]


def test_catch_up_latest_runs_the_newest_and_skips_the_rest() -> None:
    trigger = IntervalSecondsTrigger(60)
    run, skipped = due_time_occurrences(trigger, T0, T0 + 60, T0 + 5 * 60 + 30, CatchUp.LATEST)
    assert run == [T0 + 300]
    assert skipped == [T0 + 120, T0 + 180, T0 + 240]
    assert scan_cursor(run, T0 + 330) == T0 + 330
    assert due_time_occurrences(trigger, T0, T0, T0 + 60, CatchUp.LATEST) == ([T0 + 60], [])


def test_latest_lists_only_the_newest_missed() -> None:
    trigger = IntervalSecondsTrigger(10)
    now = T0 + 10 * 1000
    run, skipped = due_time_occurrences(trigger, T0, T0, now, CatchUp.LATEST)
    assert run == [now]
    assert skipped == [now - 10 * k for k in range(MAX_SKIPPED, 0, -1)]


def test_cron_catch_up_all_and_latest() -> None:
    now = T0 + 20 * 3600 + 59
    run, skipped = due_time_occurrences(HOURLY, T0 - 3600, T0 - 1, now, CatchUp.ALL)
    assert run == [T0 + 3600 * k for k in range(MAX_CATCH_UP)]  # T0 itself is due: after last_scanned
    assert skipped == []
    run, skipped = due_time_occurrences(HOURLY, T0 - 3600, scan_cursor(run, now), now, CatchUp.ALL)
    assert run == [T0 + 3600 * k for k in range(MAX_CATCH_UP, 21)]
    run, skipped = due_time_occurrences(HOURLY, T0 - 3600, T0, now, CatchUp.LATEST)
    assert run == [T0 + 20 * 3600]
    assert skipped == [T0 + 3600 * k for k in range(1, 20)]


def test_cron_occurrence_at_the_cursor_is_not_due_again() -> None:
    for catch_up in CatchUp:
        assert due_time_occurrences(HOURLY, T0 - 86_400, T0, T0 + 1800, catch_up) == ([], [])
        assert due_time_occurrences(HOURLY, T0 - 86_400, T0, T0 + 3600, catch_up) == ([T0 + 3600], [])
    run, skipped = due_time_occurrences(HOURLY, T0 - 86_400, T0, T0 + 3 * 3600, CatchUp.LATEST)
    assert (run, skipped) == ([T0 + 3 * 3600], [T0 + 3600, T0 + 2 * 3600])


def test_cron_latest_over_a_long_outage_lists_the_newest_missed() -> None:
    every_minute = CronTrigger.parse("* * * * *")
    now = T0 + 30 * 86_400
    run, skipped = due_time_occurrences(every_minute, T0, T0, now, CatchUp.LATEST)
    assert run == [now]
    assert skipped == [now - 60 * k for k in range(MAX_SKIPPED, 0, -1)]


def test_cron_since_bounds_the_window() -> None:
    # registered at 10:30: the 10:00 occurrence is not owed
    since = T0 + 10 * 3600 + 1800
    assert due_time_occurrences(HOURLY, since, 0, T0 + 11 * 3600, CatchUp.ALL) == ([T0 + 11 * 3600], [])
    assert due_time_occurrences(HOURLY, since, 0, T0 + 10 * 3600 + 3599, CatchUp.LATEST) == ([], [])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=0, max_value=10_000),
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=8),
)
def test_block_scans_run_every_occurrence_exactly_once(every: int, since: int, steps: list[int]) -> None:
    """However the scans are spaced, ALL runs each occurrence once, in order, and skips none."""
    cursor, height = since, since
    ran: list[int] = []
    for step in steps:
        height += step
        while True:
            run, skipped = due_block_occurrences(every, since, cursor, height, CatchUp.ALL)
            assert skipped == []
            assert len(run) <= MAX_CATCH_UP
            ran += run
            cursor = scan_cursor(run, height)
            if len(run) < MAX_CATCH_UP:
                break
    assert ran == list(range(since + every, height + 1, every))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=0, max_value=10_000),
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=8),
)
def test_block_scans_latest_runs_the_newest_of_each_scan(every: int, since: int, steps: list[int]) -> None:
    cursor, height = since, since
    for step in steps:
        height += step
        run, skipped = due_block_occurrences(every, since, cursor, height, CatchUp.LATEST)
        due = [b for b in range(since + every, height + 1, every) if b > cursor]
        assert run == due[-1:]
        assert skipped == due[:-1][-MAX_SKIPPED:]
        cursor = scan_cursor(run, height)


def test_block_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        due_block_occurrences(0, 0, 0, 10, CatchUp.ALL)


# --- next due -------------------------------------------------------------------------------------


def test_next_due_by_kind() -> None:
    assert next_due(HOURLY, T0, 100, T0 + 10, 150) == (T0 + 3600, None)
    assert next_due(CronTrigger.parse("0 0 31 2 *"), T0, 100, T0, 150) == (None, None)
    assert next_due(IntervalSecondsTrigger(60), T0, 100, T0 + 60, 150) == (T0 + 120, None)
    assert next_due(IntervalSecondsTrigger(60), T0, 100, T0 + 61, 150) == (T0 + 120, None)
    assert next_due(IntervalSecondsTrigger(60), T0, 100, T0 - 1000, 150) == (T0 + 60, None)
    assert next_due(IntervalBlocksTrigger(10), T0, 100, T0, 150) == (None, 160)
    assert next_due(IntervalBlocksTrigger(10), T0, 100, T0, 155) == (None, 160)
    assert next_due(IntervalBlocksTrigger(10), T0, 100, T0, 90) == (None, 110)
    assert next_due(ConditionTrigger("check", 1), T0, 100, T0, 150) == (None, 151)
    assert next_due(ConditionTrigger("check", 4), T0, 100, T0, 150) == (None, 152)
    event = EventTrigger("0x" + "ab" * 20, "Paid", (ArgFilter(0, b"x"),))
    assert next_due(event, T0, 100, T0, 150) == (None, None)


# --- balance and lateness -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "cost", "left", "low"),
    [
        (0, 10, 0, True),
        (-5, 10, 0, True),
        (99, 10, 9, True),
        (100, 10, 10, False),
        (10**12, 3, 10**12 // 3, False),
    ],
)
def test_runs_left_and_low_balance(balance: int, cost: int, left: int, low: bool) -> None:
    assert runs_left(balance, cost) == left
    assert low_balance(balance, cost) is low


def test_low_balance_threshold_is_configurable_and_cost_must_be_positive() -> None:
    assert low_balance(100, 10, warn_runs=11)
    assert not low_balance(100, 10, warn_runs=10)
    assert not low_balance(0, 10, warn_runs=0)
    with pytest.raises(ValueError, match="positive"):
        runs_left(100, 0)


def test_lateness_is_never_negative() -> None:
    assert lateness_blocks(100, 101) == 1
    assert lateness_blocks(100, 100) == 0
    assert lateness_blocks(100, 99) == 0
