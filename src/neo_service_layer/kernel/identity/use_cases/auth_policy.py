"""The settings of authentication: token issuer and lifetimes, sign-in lockout, who must use MFA.

One frozen value shared by sign-in, sessions and bearer authentication, built from the settings by the
composition root (or by a test with its own numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from neo_service_layer.kernel.identity.rules.accounts import SUPERADMIN
from neo_service_layer.kernel.identity.rules.passwords import LockoutPolicy


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    issuer: str
    audience: str
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    leeway_seconds: int = 10
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    mfa_required_roles: frozenset[str] = frozenset({SUPERADMIN, "owner", "admin"})
    password_min_length: int = 12
    api_key_touch_interval: timedelta = timedelta(seconds=60)
    totp_issuer: str = "Neo Service Layer"
