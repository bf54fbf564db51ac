"""Which events a subscription gets: exact event types or a prefix ending in ``.*``."""

from __future__ import annotations

from collections.abc import Sequence

#: most type patterns in one subscription
MAX_TYPES = 20
#: what a pattern looks like (checked by the API schema too)
PATTERN_REGEX = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$"


class UnknownEventType(ValueError):
    pass


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """``*`` matches every type; ``automation.*`` every type starting ``automation.``."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def check_patterns(patterns: Sequence[str], known_types: Sequence[str]) -> None:
    """Each pattern must match at least one known type (a typo is refused, not silently idle)."""
    for pattern in patterns:
        if not any(matches([pattern], known) for known in known_types):
            raise UnknownEventType(f"{pattern!r} matches no event type (known: {', '.join(known_types)})")
