"""ES256 access tokens (PyJWT) with signing keys kept in the database, sealed under the KEK.

Key storage (see docs): each ES256 private key is PEM, AES-256-GCM sealed by :class:`AesGcmBox`
(associated data ``jwt-signing-key:<kid>``) in the ``signing_keys`` table; never stored in the clear.
The newest unretired key signs. Rotation (``nsl auth rotate-signing-key``) adds a key and retires the
others; a retired key stays published in the JWKS (and accepted) until every token it signed has
expired (access-token lifetime plus leeway). Replicas reload the key set every ``reload_every`` and
whenever a token names a ``kid`` they do not know yet (at most once per ``min_forced_reload``).

Verification refuses ``alg: none`` and every algorithm but ES256 before looking at the signature,
unknown ``kid``, wrong ``iss``/``aud`` and any signature that does not verify.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.identity import IdentityUnitOfWorkFactory, SecretBox
from neo_service_layer.kernel.identity.rules.errors import InvalidToken
from neo_service_layer.kernel.identity.rules.tokens import SigningKey, TokenClaims

ALGORITHM = "ES256"


def key_label(kid: str) -> str:
    return f"jwt-signing-key:{kid}"


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    raw: Any = ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {name: str(raw[name]) for name in ("kty", "crv", "x", "y")}


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the ``kid``."""
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Es256Codec:
    """Implements ``ports.identity.TokenCodec``."""

    def __init__(
        self,
        *,
        uow: IdentityUnitOfWorkFactory,
        box: SecretBox,
        clock: Clock,
        issuer: str,
        audience: str,
        publish_for: timedelta,
        reload_every: timedelta = timedelta(seconds=60),
        min_forced_reload: timedelta = timedelta(seconds=5),
    ) -> None:
        self._uow = uow
        self._box = box
        self._clock = clock
        self._issuer = issuer
        self._audience = audience
        self._publish_for = publish_for
        self._reload_every = reload_every
        self._min_forced_reload = min_forced_reload
        self._lock = asyncio.Lock()
        self._loaded_at: datetime | None = None
        self._active: tuple[str, ec.EllipticCurvePrivateKey] | None = None
        self._public: dict[str, tuple[ec.EllipticCurvePublicKey, dict[str, str]]] = {}

    async def _load(self, *, force: bool = False) -> None:
        async with self._lock:
            now = self._clock.now()
            if self._loaded_at is not None:
                age = now - self._loaded_at
                if age < (self._min_forced_reload if force else self._reload_every):
                    return
            async with self._uow(None) as uow:
                keys = await uow.signing_keys.published(now - self._publish_for)
            self._install(keys)
            self._loaded_at = now

    def _install(self, keys: list[SigningKey]) -> None:
        public: dict[str, tuple[ec.EllipticCurvePublicKey, dict[str, str]]] = {}
        active: tuple[str, ec.EllipticCurvePrivateKey] | None = None
        for key in keys:
            jwk = dict(key.public_jwk)
            loaded = ECAlgorithm.from_jwk(json.dumps(jwk))
            if not isinstance(loaded, ec.EllipticCurvePublicKey):
                continue
            public[key.kid] = (loaded, {**jwk, "kid": key.kid, "use": "sig", "alg": ALGORITHM})
            if active is None and key.retired_at is None:
                pem = self._box.open(key_label(key.kid), key.private_pem_sealed)
                private = serialization.load_pem_private_key(pem, password=None)
                if isinstance(private, ec.EllipticCurvePrivateKey):
                    active = (key.kid, private)
        self._public = public
        self._active = active

    async def ensure_key(self) -> str:
        """The active ``kid``; creates the first signing key when the database has none."""
        await self._load()
        if self._active is None:
            self._loaded_at = None
            await self._load()
        if self._active is None:
            return await self.rotate()
        return self._active[0]

    async def rotate(self) -> str:
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = public_jwk(private.public_key())
        kid = thumbprint(jwk)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        now = self._clock.now()
        async with self._uow(None) as uow:
            await uow.signing_keys.add(
                SigningKey(
                    kid=kid,
                    public_jwk=jwk,
                    private_pem_sealed=self._box.seal(key_label(kid), pem),
                    created_at=now,
                )
            )
            await uow.signing_keys.retire_all_except(kid, now)
            await uow.commit()
        self._loaded_at = None
        await self._load()
        return kid

    async def issue(self, claims: TokenClaims) -> str:
        await self._load()
        if self._active is None:
            await self.ensure_key()
        assert self._active is not None
        kid, private = self._active
        return jwt.encode(claims.to_dict(), private, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})

    async def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("malformed access token") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("only ES256 access tokens are accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the access token names no signing key (kid)")
        await self._load()
        if kid not in self._public:
            await self._load(force=True)
        if kid not in self._public:
            raise InvalidToken("the access token was signed by an unknown key")
        public, _ = self._public[kid]
        try:
            payload = jwt.decode(
                token,
                public,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "verify_exp": False,  # checked against the injectable clock by the service
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iat", "iss", "aud", "sub", "jti"],
                },
            )
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the access token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the access token is from another issuer") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("the access token signature does not verify") from exc
        return TokenClaims.from_dict(payload)

    async def jwks(self) -> Mapping[str, Any]:
        await self._load()
        return {"keys": [jwk for _, jwk in self._public.values()]}
