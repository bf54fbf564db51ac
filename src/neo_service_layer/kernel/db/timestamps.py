"""Reading timestamps back from the database: everything is stored in UTC, SQLite returns them naive."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(moment: datetime | None) -> datetime | None:
    """``moment`` as an aware UTC datetime (naive values from SQLite are UTC by construction)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_required(moment: datetime) -> datetime:
    """:func:`utc` for a column that is never NULL."""
    result = utc(moment)
    assert result is not None
    return result
