"""Tokens: the claims of an access token and their time check, refresh tokens, and JWT signing keys.

Only the standard library is imported here. An access token (ES256 JWT) carries a user's tenant, roles
and scopes, and becomes a :class:`Principal`; a refresh token belongs to a *family* (one session) so a
reused one revokes the whole session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind, Scope
from neo_service_layer.kernel.identity.rules.accounts import TenantId, UserId
from neo_service_layer.kernel.identity.rules.errors import InvalidToken, TokenExpired


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """Claims of an access token (JWT, ES256)."""

    sub: str
    tenant: TenantId
    roles: tuple[str, ...]
    scopes: tuple[Scope, ...]
    jti: str
    iat: int
    exp: int
    iss: str
    aud: str
    sid: str | None = None
    plan: str = "default"

    def to_dict(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "sub": self.sub,
            "tenant": self.tenant,
            "roles": list(self.roles),
            "scopes": list(self.scopes),
            "jti": self.jti,
            "iat": self.iat,
            "exp": self.exp,
            "iss": self.iss,
            "aud": self.aud,
            "plan": self.plan,
        }
        if self.sid is not None:
            claims["sid"] = self.sid
        return claims

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenClaims:
        """Parse verified claims; any missing or mistyped claim makes the token invalid."""
        try:
            roles = data["roles"]
            scopes = data["scopes"]
            if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
                raise TypeError("roles")
            if not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
                raise TypeError("scopes")
            text = {name: data[name] for name in ("sub", "tenant", "jti", "iss", "aud")}
            if not all(isinstance(v, str) and v for v in text.values()):
                raise TypeError("string claims")
            iat, exp = data["iat"], data["exp"]
            if not (type(iat) is int and type(exp) is int):
                raise TypeError("times")
            sid = data.get("sid")
            plan = data.get("plan", "default")
            if sid is not None and not isinstance(sid, str):
                raise TypeError("sid")
            if not isinstance(plan, str):
                raise TypeError("plan")
        except (KeyError, TypeError) as exc:
            raise InvalidToken("malformed access token claims") from exc
        return cls(
            sub=text["sub"],
            tenant=text["tenant"],
            roles=tuple(roles),
            scopes=tuple(scopes),
            jti=text["jti"],
            iat=iat,
            exp=exp,
            iss=text["iss"],
            aud=text["aud"],
            sid=sid,
            plan=plan,
        )

    def principal(self) -> Principal:
        return Principal(
            tenant_id=self.tenant,
            subject=self.sub,
            kind=PrincipalKind.USER,
            roles=frozenset(self.roles),
            scopes=frozenset(self.scopes),
            token_id=self.jti,
            session_id=self.sid,
            plan=self.plan,
        )


def check_token_times(claims: TokenClaims, now: datetime, leeway_seconds: int) -> None:
    """Raise ``TokenExpired`` when ``now`` is past ``exp`` (plus leeway) or before ``iat`` (minus it)."""
    moment = int(now.timestamp())
    if moment > claims.exp + leeway_seconds:
        raise TokenExpired("the access token has expired")
    if moment + leeway_seconds < claims.iat:
        raise InvalidToken("the access token is not valid yet")


@dataclass(frozen=True, slots=True)
class RefreshToken:
    id: str
    family_id: str
    tenant_id: TenantId
    user_id: UserId
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An ES256 signing key; ``private_pem_sealed`` is AES-256-GCM ciphertext, never the clear key."""

    kid: str
    public_jwk: Mapping[str, str]
    private_pem_sealed: bytes
    created_at: datetime
    retired_at: datetime | None = None
