"""Telling "the database server cannot be reached now" from any other database error.

A PostgreSQL server that is down, restarting or recovering from a crash refuses connections
(``ConnectionRefusedError``), cuts the ones it had (SQLSTATE class 08) or answers "shutting down" /
"starting up" (57P01-57P03); SQLAlchemy may wrap any of them, and marks a connection it dropped as
invalidated. Such an error passes by itself once the server is back: the worker waits it out with one
warning per interval and the API answers 503 with ``Retry-After`` (found by the chaos run on
PostgreSQL, ``docs/reliability.md``). Anything else (a constraint, a syntax error) is a real failure.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

#: SQLSTATEs of a server going away or not ready: admin shutdown, crash shutdown, cannot connect now
_GONE = frozenset({"57P01", "57P02", "57P03"})


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the database server cannot be reached (refused, reset,
    shutting down or starting): an outage to wait out, unlike an error in the statement itself."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _GONE):
            return True
        if isinstance(current, DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__ or current.__context__
    return False
