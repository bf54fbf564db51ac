"""Rate limits as data: route groups, the outcome of one hit, and the refusal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from neo_service_layer.enclave.wire.errors import DomainError


class RouteGroup(StrEnum):
    """Routes share a limit per group; each group has its own limit per principal and per client IP."""

    GENERAL = "general"
    KEY_MANAGEMENT = "key_management"
    AUTH = "auth"


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One hit against a limit such as ``100/minute``.

    Attributes:
        allowed: the hit was within the limit (and was counted).
        limit: requests allowed per window.
        remaining: requests left in the current window after this hit.
        reset_after: whole seconds until the window has room again.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after: int

    def tighter(self, other: RateDecision | None) -> RateDecision:
        """Of two decisions, the one the caller should see (a refusal, else fewer remaining)."""
        if other is None:
            return self
        if self.allowed != other.allowed:
            return other if not other.allowed else self
        return other if other.remaining < self.remaining else self


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """Which limit applies: per principal by group (a tenant plan may override), per client IP by group."""

    per_principal: Mapping[str, str]
    per_ip: Mapping[str, str]
    plans: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    enabled: bool = True

    def for_principal(self, group: RouteGroup, plan: str) -> str:
        override = self.plans.get(plan, {}).get(group.value)
        return override or self.per_principal[group.value]

    def for_ip(self, group: RouteGroup) -> str:
        return self.per_ip[group.value]


class RateLimited(DomainError):
    """Too many requests; the HTTP edge answers 429 with ``Retry-After``."""

    code = "rate-limited"

    def __init__(self, decision: RateDecision, message: str = "too many requests; slow down") -> None:
        super().__init__(message)
        self.decision = decision


class SignInThrottled(RateLimited):
    """Too many failed sign-ins on one account from this client: wait ``retry_after`` seconds.

    Only the client that failed waits; the account stays open to every other client.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            RateDecision(allowed=False, limit=0, remaining=0, reset_after=retry_after),
            f"too many failed sign-ins from this client; retry after {retry_after} s",
        )
        self.retry_after = retry_after
