"""RFC 6238 TOTP (30 s, 6 digits, SHA-1: what authenticator apps understand) through pyotp."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

STEP_SECONDS = 30


class PyOtpAuthenticator:
    """Implements ``ports.identity.TotpAuthenticator``; accepts one step of clock drift either way."""

    def __init__(self, issuer: str) -> None:
        self._issuer = issuer

    def new_secret(self) -> str:
        secret: str = pyotp.random_base32(32)
        return secret

    def provisioning_uri(self, secret: str, account: str) -> str:
        uri: str = pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=self._issuer)
        return uri

    def matching_step(self, secret: str, code: str, now: datetime) -> int | None:
        if not (code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret)
        step = int(now.timestamp()) // STEP_SECONDS
        for offset in (0, -1, 1):
            expected: str = totp.at(now, counter_offset=offset)
            if hmac.compare_digest(expected, code):
                return step + offset
        return None
