"""Password policy and the sign-in lockout rule (pure; the standard library only)."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

from neo_service_layer.kernel.identity.rules.errors import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 hashes anything, but a megabyte "password" is a denial-of-service attempt


@functools.cache
def common_passwords() -> frozenset[str]:
    """The list of common passwords shipped in the package (``common_passwords.txt`` beside this module)."""
    text = (
        resources.files("neo_service_layer.kernel.identity.rules")
        .joinpath("common_passwords.txt")
        .read_text("utf-8")
    )
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def normalise_password(password: str) -> str:
    """NFKC, so that the same password typed on two keyboards hashes the same (RFC 8265 style)."""
    return unicodedata.normalize("NFKC", password)


def check_password(
    password: str,
    *,
    username: str = "",
    min_length: int = MIN_LENGTH,
    common: frozenset[str] | None = None,
) -> None:
    """Raise ``WeakPassword`` saying why ``password`` is refused; return quietly when acceptable."""
    password = normalise_password(password)
    if len(password) < min_length:
        raise WeakPassword(f"the password needs at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password may have at most {MAX_LENGTH} characters")
    folded = password.casefold()
    if folded in (common if common is not None else common_passwords()):
        raise WeakPassword("this password is on the list of common passwords")
    if username and folded == username.casefold():
        raise WeakPassword("the password must not be the username")
    if len(set(folded)) < 4:
        raise WeakPassword("the password repeats too few characters")


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``max_failures`` failed sign-ins within ``window`` lock the key for ``lock_for``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class LockoutState:
    """Failed sign-ins counted for one key (``user:<name>`` or ``ip:<address>``)."""

    failures: int = 0
    first_failure_at: datetime | None = None
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_failure(self, now: datetime, policy: LockoutPolicy) -> LockoutState:
        """The state after one more failure: counts restart after the window; the limit locks."""
        if self.is_locked(now):
            return self
        fresh = self.first_failure_at is None or now - self.first_failure_at >= policy.window
        if self.locked_until is not None and now >= self.locked_until:
            fresh = True
        failures = 1 if fresh else self.failures + 1
        first = now if fresh else self.first_failure_at
        locked_until = now + policy.lock_for if failures >= policy.max_failures else None
        return LockoutState(failures=failures, first_failure_at=first, locked_until=locked_until)


def lockout_keys(username: str, client_ip: str | None) -> tuple[str, ...]:
    """The keys a sign-in attempt counts against: the account name, and the client address."""
    keys = [f"user:{username.casefold()}"]
    if client_ip:
        keys.append(f"ip:{client_ip}")
    return tuple(keys)
