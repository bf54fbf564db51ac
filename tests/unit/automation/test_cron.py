"""Cron parsing, matching and searching, checked against datetime and a minute-by-minute reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neo_service_layer.enclave.wire.errors import DomainError
from neo_service_layer.services.automation.rules.civil import civil_from_days, days_from_civil, days_in_month
from neo_service_layer.services.automation.rules.cron import (
    CronSchedule,
    InvalidTrigger,
    civil_from_unix,
    cron_masks,
    cron_matches,
    cron_occurrences,
    next_cron,
    parse_cron,
    previous_cron,
    schedule_from_masks,
)


def _ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


def _reference_matches(s: CronSchedule, t: int) -> bool:
    """Vixie's rule written from datetime, independent of the integer calendar."""
    d = datetime.fromtimestamp(t, UTC)
    dow = (d.weekday() + 1) % 7
    dom_ok, dow_ok = d.day in s.days_of_month, dow in s.days_of_week
    days = (dom_ok or dow_ok) if (s.dom_restricted and s.dow_restricted) else (dom_ok and dow_ok)
    return d.minute in s.minutes and d.hour in s.hours and d.month in s.months and days


EXPRESSIONS = [
    "* * * * *",
    "*/15 * * * *",
    "0 */6 * * *",
    "5 4 * * SUN",
    "0 0 1 * MON",
    "0 0 1,15 * *",
    "30 9-17/2 * * mon-fri",
    "0 12 * JAN-MAR,oct *",
    "59 23 31 12 *",
    "0 0 29 2 *",
    "0 0 */2 * 1",
    "0-5,30-35 * * * *",
    "0 0 * * 7",
    "0 0 * * 5-7",
    "15 3 1-7 * 0",
    "0 0 28-31 * *",
]


# --- the integer calendar -------------------------------------------------------------------------


def test_civil_from_unix_matches_datetime_every_day_1970_to_2100() -> None:
    day = datetime(1970, 1, 1, tzinfo=UTC)
    end = datetime(2101, 1, 1, tzinfo=UTC)
    offset = 0
    while day < end:
        # a different time of day each day, so hours and minutes are exercised too
        moment = day + timedelta(seconds=(offset * 7919) % 86_400)
        t = int(moment.timestamp())
        dow = (moment.weekday() + 1) % 7
        assert civil_from_unix(t) == (moment.year, moment.month, moment.day, moment.hour, moment.minute, dow)
        day += timedelta(days=1)
        offset += 1


@pytest.mark.parametrize(
    ("date", "days"),
    [((1970, 1, 1), 0), ((2000, 2, 29), 11_016), ((2000, 3, 1), 11_017), ((2100, 2, 28), 47_540)],
)
def test_days_from_civil_on_known_dates(date: tuple[int, int, int], days: int) -> None:
    assert days_from_civil(*date) == days
    assert civil_from_days(days) == date


def test_leap_years_follow_the_gregorian_rule() -> None:
    assert days_in_month(2000, 2) == 29  # divisible by 400
    assert days_in_month(2100, 2) == 28  # divisible by 100, not 400
    assert days_in_month(2024, 2) == 29
    assert days_in_month(2023, 2) == 28
    assert civil_from_days(days_from_civil(2100, 2, 28) + 1) == (2100, 3, 1)


@given(st.integers(min_value=0, max_value=_ts(2400, 1, 1)))
def test_civil_from_unix_matches_datetime_anywhere(t: int) -> None:
    d = datetime.fromtimestamp(t, UTC)
    assert civil_from_unix(t) == (d.year, d.month, d.day, d.hour, d.minute, (d.weekday() + 1) % 7)


# --- parsing --------------------------------------------------------------------------------------


def test_parse_fields_ranges_steps_lists_and_names() -> None:
    s = parse_cron("*/20 9-17/4 1,15 jan-MAR,Dec Mon-FRI")
    assert s.minutes == {0, 20, 40}
    assert s.hours == {9, 13, 17}
    assert s.days_of_month == {1, 15}
    assert s.months == {1, 2, 3, 12}
    assert s.days_of_week == {1, 2, 3, 4, 5}
    assert s.dom_restricted
    assert s.dow_restricted


def test_parse_star_fields_are_full_and_unrestricted() -> None:
    s = parse_cron("  * * * * *  ")
    assert s.minutes == set(range(60))
    assert s.hours == set(range(24))
    assert s.days_of_month == set(range(1, 32))
    assert s.months == set(range(1, 13))
    assert s.days_of_week == set(range(7))
    assert not s.dom_restricted
    assert not s.dow_restricted


def test_steps_start_at_the_range_start() -> None:
    assert parse_cron("5-59/20 * * * *").minutes == {5, 25, 45}
    assert parse_cron("* * */10 * *").days_of_month == {1, 11, 21, 31}
    assert parse_cron("* * * */5 *").months == {1, 6, 11}
    assert parse_cron("* * * * */2").days_of_week == {0, 2, 4, 6}
    assert parse_cron("0-59/60 * * * *").minutes == {0}


def test_seven_is_sunday() -> None:
    assert parse_cron("0 0 * * 7").days_of_week == {0}
    assert parse_cron("0 0 * * 5-7").days_of_week == {5, 6, 0}
    assert parse_cron("0 0 * * 0,7").days_of_week == {0}


def test_a_day_field_starting_with_star_is_unrestricted() -> None:
    s = parse_cron("0 0 */2 * 1")
    assert not s.dom_restricted
    assert s.dow_restricted
    s = parse_cron("0 0 1-31 * 1")
    assert s.dom_restricted
    assert s.dow_restricted


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 24 * * *", "cron field 2 (hour): 24 is out of range 0-23"),
        ("60 * * * *", "cron field 1 (minute): 60 is out of range 0-59"),
        ("* * 0 * *", "cron field 3 (day-of-month): 0 is out of range 1-31"),
        ("* * 32 * *", "cron field 3 (day-of-month): 32 is out of range 1-31"),
        ("* * * 13 *", "cron field 4 (month): 13 is out of range 1-12"),
        ("* * * * 8", "cron field 5 (day-of-week): 8 is out of range 0-7"),
        ("* * * * FOO", "cron field 5 (day-of-week): 'FOO' is not a number or a name (SUN-SAT)"),
        ("* * * MON *", "cron field 4 (month): 'MON' is not a number or a name (JAN-DEC)"),
        ("JAN * * * *", "cron field 1 (minute): 'JAN' is not a number"),
        ("*/0 * * * *", "cron field 1 (minute): step 0 is out of range 1-60"),
        ("*/61 * * * *", "cron field 1 (minute): step 61 is out of range 1-60"),
        ("*/x * * * *", "cron field 1 (minute): step 'x' is not a positive number"),
        ("*/ * * * *", "cron field 1 (minute): step '' is not a positive number"),
        ("5/10 * * * *", "cron field 1 (minute): a step needs '*' or a range"),
        ("30-10 * * * *", "cron field 1 (minute): range 30-10 goes backwards"),
        ("1,,2 * * * *", "cron field 1 (minute): empty list element"),
        ("-5 * * * *", "cron field 1 (minute): a number is missing"),
        ("5- * * * *", "cron field 1 (minute): a number is missing"),
        ("1-2-3 * * * *", "cron field 1 (minute): '2-3' is not a number"),
        ("? * * * *", "cron field 1 (minute): '?' is not a number"),
        ("\u0661 * * * *", "cron field 1 (minute): '\u0661' is not a number"),  # Arabic-Indic digit one
        ("* * * *", "exactly 5 fields"),
        ("0 * * * * *", "exactly 5 fields"),
        ("", "exactly 5 fields"),
        ("@yearly", "cron macros such as @yearly are not supported"),
        ("@reboot", "cron macros such as @reboot are not supported"),
        ("0 0 * * *" + " " * 200, "at most 200 characters"),
    ],
)
def test_parse_rejects_with_the_field_and_the_reason(expr: str, message: str) -> None:
    with pytest.raises(InvalidTrigger) as info:
        parse_cron(expr)
    assert message in str(info.value)
    assert isinstance(info.value, DomainError)
    assert info.value.code == "invalid-trigger"


def test_parse_accepts_an_expression_of_exactly_200_characters() -> None:
    expr = ",".join(str(m) for m in range(0, 60, 2)) + " " + ",".join(str(h) for h in range(24)) + " 1-31 * *"
    assert parse_cron(expr.ljust(200)).minutes == set(range(0, 60, 2))
    with pytest.raises(InvalidTrigger, match="at most 200"):
        parse_cron(expr.ljust(201))


# --- matching -------------------------------------------------------------------------------------


def test_dom_and_dow_both_restricted_match_either() -> None:
    s = parse_cron("0 0 1 * MON")
    assert cron_matches(s, _ts(2026, 6, 1))  # the 1st, a Monday
    assert cron_matches(s, _ts(2026, 7, 1))  # the 1st, a Wednesday
    assert cron_matches(s, _ts(2026, 7, 6))  # a Monday, the 6th
    assert not cron_matches(s, _ts(2026, 7, 7))  # neither


def test_a_star_day_field_leaves_the_other_deciding() -> None:
    assert not cron_matches(parse_cron("0 0 * * MON"), _ts(2026, 7, 1))  # Wednesday
    assert cron_matches(parse_cron("0 0 * * MON"), _ts(2026, 7, 6))
    assert not cron_matches(parse_cron("0 0 1 * *"), _ts(2026, 7, 6))
    assert cron_matches(parse_cron("0 0 1 * *"), _ts(2026, 7, 1))


def test_a_stepped_star_day_field_narrows_the_other() -> None:
    s = parse_cron("0 0 */2 * MON")  # odd days that are Mondays (Vixie: AND when a field starts with *)
    assert cron_matches(s, _ts(2026, 6, 1))  # Monday the 1st
    assert not cron_matches(s, _ts(2026, 6, 8))  # Monday the 8th
    assert not cron_matches(s, _ts(2026, 6, 3))  # Wednesday the 3rd


def test_only_the_minute_matters() -> None:
    s = parse_cron("30 12 * * *")
    assert cron_matches(s, _ts(2026, 1, 1, 12, 30))
    assert cron_matches(s, _ts(2026, 1, 1, 12, 30) + 59)
    assert not cron_matches(s, _ts(2026, 1, 1, 12, 30) + 60)
    assert not cron_matches(s, _ts(2026, 1, 1, 12, 30) - 1)


def test_utc_has_no_daylight_saving_gap_or_repeat() -> None:
    # 02:30 does not exist in Europe on 2026-03-29 and 01:30 happens twice in the US on 2026-11-01;
    # in UTC each is one ordinary minute.
    s = parse_cron("30 2 * * *")
    assert cron_occurrences(s, _ts(2026, 3, 28), _ts(2026, 3, 31), 10) == [
        _ts(2026, 3, 28, 2, 30),
        _ts(2026, 3, 29, 2, 30),
        _ts(2026, 3, 30, 2, 30),
    ]
    s = parse_cron("30 1 * * *")
    assert cron_occurrences(s, _ts(2026, 11, 1), _ts(2026, 11, 2), 10) == [_ts(2026, 11, 1, 1, 30)]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.integers(min_value=0, max_value=_ts(2200, 1, 1)))
def test_matching_agrees_with_a_datetime_reference(expr: str, t: int) -> None:
    s = parse_cron(expr)
    assert cron_matches(s, t) == _reference_matches(s, t)


# --- searching ------------------------------------------------------------------------------------


def _brute_next(s: CronSchedule, after: int, limit_minutes: int) -> int | None:
    t = (after // 60 + 1) * 60
    for _ in range(limit_minutes):
        if _reference_matches(s, t):
            return t
        t += 60
    return None


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        [e for e in EXPRESSIONS if e not in ("0 0 29 2 *", "59 23 31 12 *", "0 12 * JAN-MAR,oct *")]
    ),
    st.integers(min_value=0, max_value=_ts(2200, 1, 1)),
)
def test_next_cron_agrees_with_a_minute_by_minute_search(expr: str, after: int) -> None:
    s = parse_cron(expr)
    expected = _brute_next(s, after, 40 * 24 * 60)
    assert expected is not None  # every sampled expression runs at least monthly
    assert next_cron(s, after) == expected


def test_next_cron_is_strictly_after() -> None:
    s = parse_cron("0 * * * *")
    assert next_cron(s, _ts(2026, 1, 1, 5)) == _ts(2026, 1, 1, 6)
    assert next_cron(s, _ts(2026, 1, 1, 5) - 1) == _ts(2026, 1, 1, 5)


def test_next_cron_crosses_months_years_and_leap_days() -> None:
    assert next_cron(parse_cron("59 23 31 12 *"), _ts(2026, 1, 1)) == _ts(2026, 12, 31, 23, 59)
    assert next_cron(parse_cron("0 0 29 2 *"), _ts(2024, 3, 1)) == _ts(2028, 2, 29)
    # 2100 is not a leap year: the next 29 February after 2096 is in 2104
    assert next_cron(parse_cron("0 0 29 2 *"), _ts(2096, 3, 1)) == _ts(2104, 2, 29)
    assert next_cron(parse_cron("0 0 31 * *"), _ts(2026, 4, 1)) == _ts(2026, 5, 31)


def test_previous_cron_skips_back_over_months() -> None:
    s = parse_cron("0 0 1 JAN *")
    assert previous_cron(s, _ts(2026, 6, 1), _ts(2025, 1, 1)) == _ts(2026, 1, 1)
    assert previous_cron(s, _ts(2026, 1, 1) - 1, _ts(2025, 1, 1)) == _ts(2025, 1, 1)
    assert previous_cron(s, _ts(2026, 1, 1) - 1, _ts(2025, 1, 1) + 1) is None


@pytest.mark.parametrize("expr", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 FEB *"])
def test_next_cron_of_impossible_dates_is_none(expr: str) -> None:
    s = parse_cron(expr)
    assert next_cron(s, _ts(2026, 1, 1)) is None
    assert cron_occurrences(s, _ts(2026, 1, 1), _ts(2036, 1, 1), 5) == []


def test_an_impossible_date_with_a_weekday_runs_on_the_weekday() -> None:
    # both day fields restricted: either matches, so the Sundays of February run
    assert next_cron(parse_cron("0 0 31 2 SUN"), _ts(2026, 1, 1)) == _ts(2026, 2, 1)


def test_occurrences_are_the_first_ones_ascending_in_the_half_open_window() -> None:
    s = parse_cron("*/10 * * * *")
    start = _ts(2026, 5, 1, 10)
    assert cron_occurrences(s, start, start + 3600, 100) == [start + 600 * k for k in range(1, 7)]
    assert cron_occurrences(s, start, start + 3600, 3) == [start + 600, start + 1200, start + 1800]
    assert cron_occurrences(s, start - 1, start, 10) == [start]
    assert cron_occurrences(s, start, start + 599, 10) == []
    assert cron_occurrences(s, start, start + 3600, 0) == []
    with pytest.raises(ValueError, match="limit"):
        cron_occurrences(s, start, start + 3600, -1)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.integers(min_value=0, max_value=_ts(2100, 1, 1)))
def test_occurrences_over_two_days_agree_with_the_reference(expr: str, after: int) -> None:
    s = parse_cron(expr)
    until = after + 2 * 86_400
    expected = [t for t in range((after // 60 + 1) * 60, until + 1, 60) if _reference_matches(s, t)]
    assert cron_occurrences(s, after, until, 10_000) == expected


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.integers(min_value=86_400 * 40, max_value=_ts(2100, 1, 1)))
def test_previous_cron_agrees_with_the_reference(expr: str, at: int) -> None:
    s = parse_cron(expr)
    not_before = at - 3 * 86_400
    expected = [
        t for t in range(not_before // 60 * 60, at + 1, 60) if t >= not_before and _reference_matches(s, t)
    ]
    assert previous_cron(s, at, not_before) == (expected[-1] if expected else None)


# --- masks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_masks_round_trip(expr: str) -> None:
    s = parse_cron(expr)
    masks = cron_masks(s)
    assert schedule_from_masks(masks) == s
    assert schedule_from_masks(list(masks)) == s


def test_masks_use_the_documented_bits() -> None:
    assert cron_masks(parse_cron("0,59 0,23 1,31 1,12 0,6")) == (
        1 | 1 << 59,
        1 | 1 << 23,
        1 << 1 | 1 << 31,
        1 << 1 | 1 << 12,
        1 | 1 << 6,
        3,
    )
    assert cron_masks(parse_cron("* * * * *")) == (
        (1 << 60) - 1,
        (1 << 24) - 1,
        (1 << 32) - 2,
        (1 << 13) - 2,
        127,
        0,
    )
    assert cron_masks(parse_cron("0 0 1 * *"))[5] == 1
    assert cron_masks(parse_cron("0 0 * * 1"))[5] == 2


@settings(max_examples=200, deadline=None)
@given(  # sizes keep the expression under the 200-character limit (at most 176 here)
    st.sets(st.integers(0, 59), min_size=1, max_size=20),
    st.sets(st.integers(0, 23), min_size=1, max_size=10),
    st.sets(st.integers(1, 31), min_size=1, max_size=10),
    st.sets(st.integers(1, 12), min_size=1),
    st.sets(st.integers(0, 7), min_size=1),
    st.booleans(),
    st.booleans(),
)
def test_lists_parse_and_round_trip_through_masks(
    minutes: set[int],
    hours: set[int],
    doms: set[int],
    months: set[int],
    dows: set[int],
    dom_star: bool,
    dow_star: bool,
) -> None:
    def field(values: set[int], star: bool) -> str:
        return "*/1" if star else ",".join(str(v) for v in sorted(values))

    expr = " ".join(
        [
            field(minutes, False),
            field(hours, False),
            field(doms, dom_star),
            field(months, False),
            field(dows, dow_star),
        ]
    )
    s = parse_cron(expr)
    assert s.minutes == minutes
    assert s.hours == hours
    assert s.months == months
    assert s.days_of_month == (set(range(1, 32)) if dom_star else doms)
    assert s.days_of_week == (set(range(7)) if dow_star else {d % 7 for d in dows})
    assert (s.dom_restricted, s.dow_restricted) == (not dom_star, not dow_star)
    assert schedule_from_masks(cron_masks(s)) == s


@pytest.mark.parametrize(
    ("masks", "message"),
    [
        ((1, 1, 2, 2, 1), "6 integers"),
        ((1, 1, 2, 2, 1, 0, 0), "6 integers"),
        ((0, 1, 2, 2, 1, 0), "minute mask is empty"),
        ((1 << 60, 1, 2, 2, 1, 0), "minute mask has bits outside 0-59"),
        ((1, 1 << 24, 2, 2, 1, 0), "hour mask has bits outside 0-23"),
        ((1, 1, 1, 2, 1, 0), "day-of-month mask has bits outside 1-31"),
        ((1, 1, 1 << 32, 2, 1, 0), "day-of-month mask has bits outside 1-31"),
        ((1, 1, 2, 1, 1, 0), "month mask has bits outside 1-12"),
        ((1, 1, 2, 1 << 13, 1, 0), "month mask has bits outside 1-12"),
        ((1, 1, 2, 2, 1 << 7, 0), "day-of-week mask has bits outside 0-6"),
        ((1, 1, 2, 2, 1, 4), "flags 4 are not 0-3"),
        ((-1, 1, 2, 2, 1, 0), "mask 0 is not a non-negative integer"),
        ((1, True, 2, 2, 1, 0), "mask 1 is not a non-negative integer"),
        ((1, 1, b"\x02", 2, 1, 0), "mask 2 is not a non-negative integer"),
        ((1, 1, 2, "2", 1, 0), "mask 3 is not a non-negative integer"),
    ],
)
def test_bad_masks_are_refused(masks: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidTrigger, match=message):
        schedule_from_masks(masks)
