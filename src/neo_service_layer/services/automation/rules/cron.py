"""Five-field cron expressions in UTC: parsing, matching, occurrences and the contract's bit masks.

Semantics are Vixie cron's. A day field counts as *restricted* unless its text starts with ``*``; when
both day fields are restricted a day matches if EITHER matches (``0 0 1 * MON``: the 1st and every
Monday), otherwise a day must match BOTH sets, so a ``*`` field (every day) leaves only the other one
deciding and ``*/2`` in one field still narrows the other. UTC has no daylight saving time: every
minute of every day exists once. The contract stores the same schedule as masks (:func:`cron_masks`)
and matches a minute with the same rule on the fields of :func:`civil_from_unix`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.automation.rules.civil import (
    SECONDS_PER_DAY,
    civil_from_days,
    civil_from_unix,
    days_from_civil,
    days_in_month,
    weekday_from_days,
)

__all__ = [
    "MAX_CRON_LENGTH",
    "NEXT_CRON_HORIZON_DAYS",
    "CronSchedule",
    "InvalidTrigger",
    "civil_from_unix",
    "cron_masks",
    "cron_matches",
    "cron_occurrences",
    "days_from_civil",
    "next_cron",
    "parse_cron",
    "previous_cron",
    "schedule_from_masks",
]

MAX_CRON_LENGTH = 200
# 9 years: long enough for ``0 0 29 2 *`` across 2100 (not a leap year: 2096 -> 2104).
NEXT_CRON_HORIZON_DAYS = 9 * 366

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class InvalidTrigger(InvalidInput):
    """A trigger (cron expression, interval, event or condition, or its on-chain form) is malformed."""

    code = "invalid-trigger"


@dataclass(frozen=True, slots=True)
class _Field:
    number: int
    name: str
    low: int
    high: int  # highest value accepted in the text (7 for day-of-week, read as Sunday)
    names: tuple[str, ...] = ()
    names_start: int = 0


_FIELDS = (
    _Field(1, "minute", 0, 59),
    _Field(2, "hour", 0, 23),
    _Field(3, "day-of-month", 1, 31),
    _Field(4, "month", 1, 12, _MONTHS, 1),
    _Field(5, "day-of-week", 0, 7, _DAYS, 0),
)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """The sets of a parsed expression; day of week 0 = Sunday .. 6 = Saturday."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool


def parse_cron(expr: str) -> CronSchedule:
    """Parse ``minute hour day-of-month month day-of-week``; :class:`InvalidTrigger` says what is wrong."""
    if not isinstance(expr, str):
        raise InvalidTrigger("a cron expression must be a string")
    if len(expr) > MAX_CRON_LENGTH:
        raise InvalidTrigger(f"a cron expression has at most {MAX_CRON_LENGTH} characters")
    text = expr.strip()
    if text.startswith("@"):
        raise InvalidTrigger(
            f"cron macros such as {text.split()[0]} are not supported: write the 5 fields (e.g. '0 0 * * *')"
        )
    parts = text.split()
    if len(parts) != 5:
        raise InvalidTrigger(
            "a cron expression has exactly 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(parts)}"
        )
    sets = [_parse_field(field, part) for field, part in zip(_FIELDS, parts, strict=True)]
    return CronSchedule(
        minutes=sets[0],
        hours=sets[1],
        days_of_month=sets[2],
        months=sets[3],
        days_of_week=frozenset(d % 7 for d in sets[4]),
        dom_restricted=not parts[2].startswith("*"),
        dow_restricted=not parts[4].startswith("*"),
    )


def _parse_field(field: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(field, item))
    return frozenset(values)


def _parse_item(field: _Field, item: str) -> range:
    where = f"cron field {field.number} ({field.name})"
    if not item:
        raise InvalidTrigger(f"{where}: empty list element")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()):
            raise InvalidTrigger(f"{where}: step '{step_text}' is not a positive number")
        step = int(step_text)
        span = field.high - field.low + 1
        if not 1 <= step <= span:
            raise InvalidTrigger(f"{where}: step {step} is out of range 1-{span}")
        if base != "*" and "-" not in base:
            raise InvalidTrigger(f"{where}: a step needs '*' or a range before it, as in '*/5' or '0-30/5'")
    if base == "*":
        return range(field.low, field.high + (0 if field.number == 5 else 1), step)
    start_text, dash, end_text = base.partition("-")
    start = _parse_value(field, start_text, where)
    end = _parse_value(field, end_text, where) if dash else start
    if start > end:
        raise InvalidTrigger(f"{where}: range {start_text}-{end_text} goes backwards")
    return range(start, end + 1, step)


def _parse_value(field: _Field, token: str, where: str) -> int:
    if not token:
        raise InvalidTrigger(f"{where}: a number is missing (ranges are written 'a-b')")
    if token.isascii() and token.isdigit():
        value = int(token)
        if not field.low <= value <= field.high:
            raise InvalidTrigger(f"{where}: {token} is out of range {field.low}-{field.high}")
        return value
    if field.names and token.upper() in field.names:
        return field.names.index(token.upper()) + field.names_start
    kind = " or a name (" + field.names[0] + "-" + field.names[-1] + ")" if field.names else ""
    raise InvalidTrigger(f"{where}: '{token}' is not a number{kind}")


def _day_matches(s: CronSchedule, day: int, month: int, weekday: int) -> bool:
    if month not in s.months:
        return False
    dom_ok = day in s.days_of_month
    dow_ok = weekday in s.days_of_week
    if s.dom_restricted and s.dow_restricted:
        return dom_ok or dow_ok
    return dom_ok and dow_ok


def cron_matches(s: CronSchedule, t: int) -> bool:
    """Whether the minute containing unix time ``t`` is an occurrence of ``s``."""
    _, month, day, hour, minute, weekday = civil_from_unix(t)
    return minute in s.minutes and hour in s.hours and _day_matches(s, day, month, weekday)


def _search(s: CronSchedule, start: int, bound: int, forward: bool) -> int | None:
    """First occurrence from minute ``start`` on (or back), not past ``bound``; skips by month and day."""
    minutes = sorted(s.minutes, reverse=not forward)
    hours = sorted(s.hours, reverse=not forward)
    if not minutes or not hours:
        return None
    step = 1 if forward else -1
    day = start // SECONDS_PER_DAY
    first = True
    while (day * SECONDS_PER_DAY <= bound) if forward else ((day + 1) * SECONDS_PER_DAY > bound):
        year, month, dom = civil_from_days(day)
        if month not in s.months:  # jump to the next (or previous) month
            day = day - dom + 1 + days_in_month(year, month) if forward else day - dom
            first = False
            continue
        if _day_matches(s, dom, month, weekday_from_days(day)):
            found = _first_in_day(minutes, hours, day, start if first else None, forward)
            if found is not None:
                return found if (found <= bound if forward else found >= bound) else None
        day += step
        first = False
    return None


def _first_in_day(
    minutes: list[int], hours: list[int], day: int, start: int | None, forward: bool
) -> int | None:
    base = day * SECONDS_PER_DAY
    for hour in hours:
        for minute in minutes:
            t = base + hour * 3600 + minute * 60
            if start is None or (t >= start if forward else t <= start):
                return t
    return None


def next_cron(s: CronSchedule, after: int) -> int | None:
    """The first occurrence strictly after ``after``, or None if there is none within 9 years."""
    start = (after // 60 + 1) * 60
    return _search(s, start, start + NEXT_CRON_HORIZON_DAYS * SECONDS_PER_DAY, True)


def previous_cron(s: CronSchedule, at_or_before: int, not_before: int) -> int | None:
    """The latest occurrence at or before ``at_or_before`` and at or after ``not_before``, or None."""
    return _search(s, at_or_before // 60 * 60, not_before, False)


def cron_occurrences(s: CronSchedule, after: int, until: int, limit: int) -> list[int]:
    """Minute starts ``t`` with ``after < t <= until``: the FIRST ``limit`` of them, ascending."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    found: list[int] = []
    t: int | None = after
    while t is not None and len(found) < limit:
        t = _search(s, (t // 60 + 1) * 60, until, True)
        if t is not None:
            found.append(t)
    return found


def _mask(values: frozenset[int]) -> int:
    mask = 0
    for v in values:
        mask |= 1 << v
    return mask


def cron_masks(s: CronSchedule) -> tuple[int, int, int, int, int, int]:
    """(minutes, hours, days of month, months, days of week, flags): bit ``v`` set for each value ``v``.

    Days of month use bits 1-31 and months bits 1-12; flags: 1 = day of month restricted, 2 = day of
    week restricted.
    """
    flags = (1 if s.dom_restricted else 0) | (2 if s.dow_restricted else 0)
    return (
        _mask(s.minutes),
        _mask(s.hours),
        _mask(s.days_of_month),
        _mask(s.months),
        _mask(s.days_of_week),
        flags,
    )


_MASK_RANGES = (
    (0, 59, "minute"),
    (0, 23, "hour"),
    (1, 31, "day-of-month"),
    (1, 12, "month"),
    (0, 6, "day-of-week"),
)


def schedule_from_masks(masks: Sequence[object]) -> CronSchedule:
    """The schedule stored on chain as :func:`cron_masks`; :class:`InvalidTrigger` if masks are not one."""
    if len(masks) != 6:
        raise InvalidTrigger(f"cron masks are 6 integers, got {len(masks)}")
    ints: list[int] = []
    for i, m in enumerate(masks):
        if not isinstance(m, int) or isinstance(m, bool) or m < 0:
            raise InvalidTrigger(f"cron mask {i} is not a non-negative integer")
        ints.append(m)
    sets: list[frozenset[int]] = []
    for mask, (low, high, name) in zip(ints[:5], _MASK_RANGES, strict=True):
        allowed = ((1 << (high + 1)) - 1) ^ ((1 << low) - 1)
        if mask == 0:
            raise InvalidTrigger(f"cron {name} mask is empty: the schedule would never run")
        if mask & ~allowed:
            raise InvalidTrigger(f"cron {name} mask has bits outside {low}-{high}")
        sets.append(frozenset(v for v in range(low, high + 1) if mask >> v & 1))
    flags = ints[5]
    if flags > 3:
        raise InvalidTrigger(f"cron flags {flags} are not 0-3")
    return CronSchedule(sets[0], sets[1], sets[2], sets[3], sets[4], bool(flags & 1), bool(flags & 2))
