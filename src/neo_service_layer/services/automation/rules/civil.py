"""UTC calendar fields of a unix time, in integer arithmetic only.

Howard Hinnant's ``civil_from_days`` / ``days_from_civil``
(http://howardhinnant.github.io/date_algorithms.html), written with ``//``, ``%``, ``+``, ``-`` and ``*``
on integers and no branches, because the automation contract computes the same fields on chain. For
``t >= 0`` every intermediate value is non-negative, so NeoVM's truncating division gives
the same results as Python's floor division.
"""

from __future__ import annotations

SECONDS_PER_DAY = 86_400
# 1970-01-01 counted from 0000-03-01 in the proleptic Gregorian calendar
_EPOCH_SHIFT = 719_468
_DAYS_PER_ERA = 146_097  # 400 years


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month 1-12, day 1-31) of the day ``days`` after 1970-01-01."""
    z = days + _EPOCH_SHIFT
    era = z // _DAYS_PER_ERA
    doe = z - era * _DAYS_PER_ERA  # day of era, 0..146096
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365  # year of era, 0..399
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the year starting 1 March, 0..365
    mp = (5 * doy + 2) // 153  # month starting from March, 0..11
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 - 12 * (mp // 10)
    year = yoe + era * 400 + (12 - month) // 10  # January and February belong to the next year
    return year, month, day


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given date (the inverse of :func:`civil_from_days`)."""
    y = year - (12 - month) // 10
    era = y // 400
    yoe = y - era * 400  # 0..399
    mp = month + 9 - 12 * ((month + 9) // 12)  # March = 0 .. February = 11
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * _DAYS_PER_ERA + doe - _EPOCH_SHIFT


def weekday_from_days(days: int) -> int:
    """Day of the week, 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday)."""
    return (days + 4) % 7


def civil_from_unix(t: int) -> tuple[int, int, int, int, int, int]:
    """(year, month, day, hour, minute, day of week 0=Sunday) of unix time ``t`` in UTC."""
    days = t // SECONDS_PER_DAY
    secs = t - days * SECONDS_PER_DAY
    year, month, day = civil_from_days(days)
    return year, month, day, secs // 3600, secs % 3600 // 60, weekday_from_days(days)


def days_in_month(year: int, month: int) -> int:
    """Number of days of ``month`` in ``year``."""
    nxt_year = year + month // 12
    nxt_month = month % 12 + 1
    return days_from_civil(nxt_year, nxt_month, 1) - days_from_civil(year, month, 1)
