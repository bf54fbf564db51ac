"""A wrapper for secret values (credentials, imported secrets) whose ``repr`` and ``str`` hide them.

Wrap a value as soon as it enters the program and call :meth:`Secret.reveal` only where the clear value is
handed to the one library call that needs it. Equality is constant-time; hashing is refused, so a secret
never becomes a dictionary key that a debug dump could show.
"""

from __future__ import annotations

import hmac
from typing import Final, final

_MASK: Final = "**********"


@final
class Secret[T: (str, bytes)]:
    """An immutable secret ``str`` or ``bytes``; its text form is always ``Secret('**********')``."""

    __slots__ = ("_value",)
    __hash__ = None  # type: ignore[assignment]

    _value: T

    def __init__(self, value: T) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> T:
        """Return the clear value. Keep the result out of logs, messages and reprs."""
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        mine, theirs = self._value, other._value
        if isinstance(mine, str) and isinstance(theirs, str):
            return hmac.compare_digest(mine.encode(), theirs.encode())
        if isinstance(mine, bytes) and isinstance(theirs, bytes):
            return hmac.compare_digest(mine, theirs)
        return False

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values cannot be pickled")
