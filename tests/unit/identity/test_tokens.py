"""Access tokens: ES256 issuance, verification refusals, key rotation and JWKS publication."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from neo_service_layer.kernel.identity.rules.errors import InvalidToken, TokenExpired
from neo_service_layer.kernel.identity.rules.tokens import TokenClaims, check_token_times
from tests.unit.identity.conftest import AUDIENCE, ISSUER, World


def _claims(world: World, **changes: object) -> TokenClaims:
    now = int(world.clock.now().timestamp())
    values: dict[str, object] = {
        "sub": "usr_1",
        "tenant": "ten_a",
        "roles": ("developer",),
        "scopes": ("keys:read",),
        "jti": "jti-1",
        "iat": now,
        "exp": now + 900,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    values.update(changes)
    return TokenClaims(**values)  # type: ignore[arg-type]


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_issued_token_is_es256_with_kid_and_all_claims(world: World) -> None:
    token = await world.codec.issue(_claims(world))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    kid = header["kid"]
    keys = (await world.codec.jwks())["keys"]
    assert [k["kid"] for k in keys] == [kid]
    assert keys[0]["kty"] == "EC"
    assert keys[0]["crv"] == "P-256"
    assert "d" not in keys[0]  # never the private part
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) >= {"sub", "tenant", "roles", "scopes", "jti", "iat", "exp", "iss", "aud"}
    assert await world.codec.verify(token) == _claims(world)


async def test_private_signing_keys_are_stored_sealed(world: World) -> None:
    await world.codec.issue(_claims(world))
    (stored,) = world.store.signing_keys.values()
    assert b"PRIVATE KEY" not in stored.private_pem_sealed


async def test_expiry_is_checked_against_the_clock_with_leeway(world: World) -> None:
    claims = _claims(world)
    check_token_times(claims, world.clock.now(), 10)
    world.clock.advance(seconds=900 + 10)
    check_token_times(claims, world.clock.now(), 10)
    world.clock.advance(seconds=1)
    with pytest.raises(TokenExpired):
        check_token_times(claims, world.clock.now(), 10)


async def test_wrong_audience_or_issuer_is_refused(world: World) -> None:
    token = await world.codec.issue(_claims(world))
    with pytest.raises(InvalidToken, match="audience"):
        await world.codec_for(audience="another-api").verify(token)
    with pytest.raises(InvalidToken, match="issuer"):
        await world.codec_for(issuer="someone-else").verify(token)


async def test_alg_none_and_other_algorithms_are_refused(world: World) -> None:
    token = await world.codec.issue(_claims(world))
    kid = jwt.get_unverified_header(token)["kid"]
    payload = _claims(world).to_dict()
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(payload)}."
    with pytest.raises(InvalidToken, match="only ES256"):
        await world.codec.verify(unsigned)
    # algorithm confusion: HMAC "signed" with the published public key as the secret
    jwk = (await world.codec.jwks())["keys"][0]
    public_pem = (
        ec.EllipticCurvePublicNumbers(
            int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "==")),
            int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "==")),
            ec.SECP256R1(),
        )
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(payload)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken, match="only ES256"):
        await world.codec.verify(forged)


async def test_tampered_signature_and_payload_are_refused(world: World) -> None:
    token = await world.codec.issue(_claims(world))
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidToken, match="signature"):
        await world.codec.verify(f"{header}.{payload}.{flipped}")
    elevated = _b64(_claims(world, scopes=("keys:admin",)).to_dict())
    with pytest.raises(InvalidToken, match="signature"):
        await world.codec.verify(f"{header}.{elevated}.{signature}")
    with pytest.raises(InvalidToken, match="malformed"):
        await world.codec.verify("not-a-jwt")


async def test_unknown_kid_is_refused(world: World) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(_claims(world).to_dict(), other, algorithm="ES256", headers={"kid": "made-up"})
    with pytest.raises(InvalidToken, match="unknown key"):
        await world.codec.verify(forged)
    no_kid = jwt.encode(_claims(world).to_dict(), other, algorithm="ES256")
    with pytest.raises(InvalidToken, match="kid"):
        await world.codec.verify(no_kid)


async def test_rotation_keeps_old_keys_published_until_their_tokens_expire(world: World) -> None:
    old_token = await world.codec.issue(_claims(world))
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = await world.codec.rotate()
    assert new_kid != old_kid
    new_token = await world.codec.issue(_claims(world, jti="jti-2"))
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert {k["kid"] for k in (await world.codec.jwks())["keys"]} == {old_kid, new_kid}
    assert (await world.codec.verify(old_token)).jti == "jti-1"
    world.clock.advance(minutes=15, seconds=11)  # access-token lifetime + leeway later
    await world.codec.ensure_key()  # a reload (replicas reload every minute)
    assert {k["kid"] for k in (await world.codec.jwks())["keys"]} == {new_kid}
    with pytest.raises(InvalidToken, match="unknown key"):
        await world.codec.verify(old_token)


async def test_a_replica_learns_a_rotated_key_from_the_database(world: World) -> None:
    await world.codec.issue(_claims(world))
    replica = world.codec_for()
    await replica.jwks()  # loaded before the rotation
    await world.codec.rotate()
    world.clock.advance(seconds=6)  # forced reloads are spaced by a few seconds
    token = await world.codec.issue(_claims(world, jti="jti-9"))
    assert (await replica.verify(token)).jti == "jti-9"
