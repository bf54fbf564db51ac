"""POST /auth/token, /auth/refresh, /auth/logout, MFA enrolment, /auth/me and the JWKS, happy and not."""

from __future__ import annotations

import base64
import json

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from neo_service_layer.kernel.identity.rules.tokens import TokenClaims
from tests.http.identity.conftest import PASSWORD, ROOT, ROOT_PASSWORD, Api, bearer

PROBLEM = "application/problem+json"


def _problem(response: object, status: int, code: str) -> None:
    assert getattr(response, "status_code") == status, getattr(response, "text")  # noqa: B009
    assert getattr(response, "headers")["content-type"] == PROBLEM  # noqa: B009
    body = getattr(response, "json")()  # noqa: B009
    assert body["type"].endswith("/" + code), body
    assert body["correlation_id"]


async def test_sign_in_returns_es256_access_and_refresh_tokens(api: Api, root: str) -> None:
    header = jwt.get_unverified_header(root)
    assert header["alg"] == "ES256"
    assert header["kid"]
    claims = jwt.decode(root, options={"verify_signature": False})
    assert claims["tenant"] == "_platform"
    assert claims["roles"] == ["superadmin"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == "neo-service-layer"
    assert claims["aud"] == "neo-service-layer-api"
    me = await api.client.get("/api/v1/auth/me", headers=bearer(root))
    assert me.status_code == 200
    assert me.json()["kind"] == "user"
    jwks = (await api.client.get("/.well-known/jwks.json")).json()
    assert header["kid"] in [k["kid"] for k in jwks["keys"]]


async def test_wrong_password_and_unknown_user_are_the_same_401(api: Api, root: str) -> None:
    wrong = await api.token(ROOT, "not the right password")
    unknown = await api.token("nobody-here", "not the right password")
    _problem(wrong, 401, "invalid-credentials")
    _problem(unknown, 401, "invalid-credentials")
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")


async def test_a_throttled_client_is_refused_even_with_the_right_password(api: Api, root: str) -> None:
    for _ in range(5):
        _problem(await api.token(ROOT, "not the right password"), 401, "invalid-credentials")
    refused = await api.token(ROOT, ROOT_PASSWORD)
    _problem(refused, 429, "rate-limited")
    assert refused.headers["Retry-After"] == "1"


async def test_mfa_missing_and_bad_codes(api: Api, root: str) -> None:
    _problem(await api.token(ROOT, ROOT_PASSWORD), 401, "mfa-required")
    _problem(await api.token(ROOT, ROOT_PASSWORD, totp_code="000000"), 401, "invalid-mfa-code")
    _problem(await api.token(ROOT, ROOT_PASSWORD, totp_code="abc"), 401, "invalid-mfa-code")


async def test_enrolment_only_token_for_privileged_roles_without_mfa(api: Api, root: str) -> None:
    tenants = await api.client.post("/api/v1/tenants", headers=bearer(root), json={"name": "acme"})
    tenant_id = tenants.json()["id"]
    await api.client.post(
        f"/api/v1/tenants/{tenant_id}/members",
        headers=bearer(root),
        json={"username": "alice", "role": "admin", "password": PASSWORD},
    )
    limited = await api.sign_in("alice")
    assert limited["mfa_enrollment_required"] is True
    assert limited["scopes"] == ["auth:mfa"]
    assert limited["refresh_token"] is None
    denied = await api.client.get(
        f"/api/v1/tenants/{tenant_id}/members", headers=bearer(limited["access_token"])
    )
    _problem(denied, 403, "missing-scope")
    enrolled = await api.client.post("/api/v1/auth/mfa/totp/enroll", headers=bearer(limited["access_token"]))
    assert enrolled.json()["otpauth_uri"].startswith("otpauth://totp/")
    bad = await api.client.post(
        "/api/v1/auth/mfa/totp/verify", headers=bearer(limited["access_token"]), json={"code": "000000"}
    )
    _problem(bad, 401, "invalid-mfa-code")
    # enrolling twice is a conflict once active
    secret = await api.enrol("alice")
    full = await api.sign_in("alice", totp=secret)
    again = await api.client.post("/api/v1/auth/mfa/totp/enroll", headers=bearer(full["access_token"]))
    _problem(again, 409, "mfa-already-enabled")


async def test_refresh_rotation_and_reuse_detection(api: Api, root: str) -> None:
    first = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": "nslr_unknown"})
    _problem(first, 401, "invalid-token")
    tokens = await api.sign_in(ROOT, ROOT_PASSWORD, totp=api.totp_secrets[ROOT])
    rotated = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    reused = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    _problem(reused, 401, "refresh-token-reuse")
    family = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
    )
    _problem(family, 401, "token-revoked")


async def test_logout_revokes_the_token(api: Api, root: str) -> None:
    out = await api.client.post("/api/v1/auth/logout", headers=bearer(root))
    assert out.status_code == 204
    _problem(await api.client.get("/api/v1/auth/me", headers=bearer(root)), 401, "token-revoked")


async def test_bad_access_tokens_are_401(api: Api, root: str) -> None:
    me = "/api/v1/auth/me"
    _problem(await api.client.get(me), 401, "unauthenticated")
    _problem(
        await api.client.get(me, headers={"Authorization": "Basic cm9vdDpyb290"}), 401, "unauthenticated"
    )
    _problem(await api.client.get(me, headers=bearer("garbage")), 401, "invalid-token")
    header, payload, signature = root.split(".")
    tampered = signature[:-3] + ("AAA" if not signature.endswith("AAA") else "BBB")
    _problem(await api.client.get(me, headers=bearer(f"{header}.{payload}.{tampered}")), 401, "invalid-token")
    claims = jwt.decode(root, options={"verify_signature": False})
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    unsigned = f"{none_header.decode()}.{payload}."
    _problem(await api.client.get(me, headers=bearer(unsigned)), 401, "invalid-token")
    stranger = jwt.encode(
        claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "x"}
    )
    _problem(await api.client.get(me, headers=bearer(stranger)), 401, "invalid-token")
    # correctly signed by our key, but for another audience
    other = TokenClaims.from_dict({**claims, "aud": "another-service"})
    wrong_aud = await api.container.iam.codec.issue(other)
    _problem(await api.client.get(me, headers=bearer(wrong_aud)), 401, "invalid-token")
    wrong_iss = await api.container.iam.codec.issue(TokenClaims.from_dict({**claims, "iss": "evil"}))
    _problem(await api.client.get(me, headers=bearer(wrong_iss)), 401, "invalid-token")


async def test_expired_access_token_is_401(api: Api, root: str) -> None:
    api.clock.advance(minutes=15, seconds=11)
    _problem(await api.client.get("/api/v1/auth/me", headers=bearer(root)), 401, "token-expired")
