"""Password policy and the sign-in lockout rule (pure; the standard library only)."""

from __future__ import annotations

import functools
import hashlib
import math
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
    """The sign-in throttle: exponential backoff per (account, client), never a lock of the account.

    Attributes:
        max_failures: failed sign-ins one client may make on one account before it has to wait.
        base_delay: the wait after failure number ``max_failures``; it doubles with each further failure.
        max_delay: the longest wait (``NSL_LOGIN_LOCKOUT_SECONDS``).
        window: counts are forgotten this long after the first failure counted.
        client_max_failures: failures one client may make across all accounts (password spraying)
            before that client, and only that client, has to wait.
        account_alarm: failures on one account from all clients within ``window`` after which every
            client gets a single free failure on it (slows a distributed guesser down; a correct
            password from a client without failures still signs in).
    """

    max_failures: int = 5
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(hours=24)
    client_max_failures: int = 20
    account_alarm: int = 50

    def delay(self, failures: int, free: int) -> timedelta:
        """How long to wait after ``failures`` failures when ``free`` of them cost nothing."""
        if failures < free:
            return timedelta(0)
        doubled: timedelta = self.base_delay * (2 ** min(failures - free, 40))
        return min(doubled, self.max_delay)


@dataclass(frozen=True, slots=True)
class LockoutState:
    """Failed sign-ins counted for one key (see :class:`ThrottleKeys`)."""

    failures: int = 0
    first_failure_at: datetime | None = None
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def retry_after(self, now: datetime) -> int:
        """Whole seconds (rounded up) until this key may try again; 0 when it may now."""
        if self.locked_until is None or now >= self.locked_until:
            return 0
        return max(1, math.ceil((self.locked_until - now).total_seconds()))

    def counted(self, now: datetime, policy: LockoutPolicy) -> int:
        """The failures that still count at ``now`` (0 once the window has passed)."""
        if self.first_failure_at is None or now - self.first_failure_at >= policy.window:
            return 0
        return self.failures

    def after_failure(self, now: datetime, policy: LockoutPolicy, free: int | None) -> LockoutState:
        """The state after one more failure; with ``free`` failures allowed (``None``: count only).

        A failure while the key must wait is not counted (the attempt was refused before any check).
        """
        if self.is_locked(now):
            return self
        failures = self.counted(now, policy) + 1
        first = now if failures == 1 else self.first_failure_at
        wait = policy.delay(failures, free) if free is not None else timedelta(0)
        return LockoutState(
            failures=failures, first_failure_at=first, locked_until=now + wait if wait else None
        )


@dataclass(frozen=True, slots=True)
class ThrottleKeys:
    """The keys one sign-in attempt counts against.

    Attributes:
        pair: this account from this client: backoff, cleared by a successful sign-in from the client.
        account: this account from every client: counted only, raises the alarm (never refuses).
        client: this client on every account: backoff after ``client_max_failures`` (``None``
            when the client address is unknown).
    """

    pair: str
    account: str
    client: str | None


def throttle_keys(username: str, client_ip: str | None) -> ThrottleKeys:
    """The throttle keys of a sign-in of ``username`` from ``client_ip`` (the edge's resolved address).

    The account name is hashed so that a key has a bounded length whatever the name typed.
    """
    account = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
    client = (client_ip or "")[:100]
    return ThrottleKeys(
        pair=f"pair:{account}:{client or '-'}",
        account=f"acct:{account}",
        client=f"ip:{client}" if client else None,
    )
