"""Roles -> scopes, API-key scope subsets, who may assign which role, and principals."""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput, PermissionDenied
from neo_service_layer.kernel.identity.rules.access import (
    ALL_SCOPES,
    ROLE_SCOPES,
    TENANT_SCOPES,
    Principal,
    PrincipalKind,
    Scopes,
    needs_mfa_enrolment,
    scopes_for_roles,
    user_token_scopes,
)
from neo_service_layer.kernel.identity.rules.accounts import SUPERADMIN, Role, can_assign_role
from neo_service_layer.kernel.identity.rules.api_keys import api_key_scopes
from neo_service_layer.kernel.identity.rules.errors import (
    InvalidToken,
    MissingScope,
    ScopeNotHeld,
    TenantMismatch,
)
from neo_service_layer.kernel.identity.rules.tokens import TokenClaims


def test_every_role_maps_to_known_tenant_scopes() -> None:
    assert set(ROLE_SCOPES) == set(Role)
    for scopes in ROLE_SCOPES.values():
        assert scopes <= TENANT_SCOPES


def test_role_mapping_examples() -> None:
    assert scopes_for_roles(["owner"]) == TENANT_SCOPES
    assert Scopes.KEYS_SIGN in scopes_for_roles(["developer"])
    assert Scopes.KEYS_ADMIN not in scopes_for_roles(["developer"])
    assert scopes_for_roles(["auditor"]) == {Scopes.AUDIT_READ, Scopes.KEYS_READ, Scopes.MEMBERS_READ}
    assert Scopes.AUDIT_READ not in scopes_for_roles(["viewer"])
    assert scopes_for_roles([SUPERADMIN]) == ALL_SCOPES
    assert Scopes.PLATFORM_ADMIN not in scopes_for_roles(["owner"])


def test_user_tokens_carry_mfa_self_service() -> None:
    assert Scopes.AUTH_MFA in user_token_scopes(["viewer"])


def test_api_key_scopes_are_a_non_empty_subset_of_the_creators() -> None:
    developer = scopes_for_roles(["developer"])
    assert api_key_scopes(["keys:sign", "randomness:request"], developer) == {
        "keys:sign",
        "randomness:request",
    }
    with pytest.raises(ScopeNotHeld):
        api_key_scopes(["keys:admin"], developer)
    with pytest.raises(InvalidInput):
        api_key_scopes([], developer)
    with pytest.raises(InvalidInput):
        api_key_scopes(["keys:teleport"], developer)
    with pytest.raises(InvalidInput):  # never for machines
        api_key_scopes([Scopes.AUTH_MFA], ALL_SCOPES)
    with pytest.raises(InvalidInput):
        api_key_scopes([Scopes.PLATFORM_ADMIN], ALL_SCOPES)


def test_only_owners_touch_the_owner_role() -> None:
    assert can_assign_role(["owner"], Role.VIEWER, Role.OWNER)
    assert can_assign_role(["admin"], Role.VIEWER, Role.DEVELOPER)
    assert not can_assign_role(["admin"], Role.VIEWER, Role.OWNER)
    assert not can_assign_role(["admin"], Role.OWNER, Role.VIEWER)
    assert not can_assign_role(["developer"], Role.VIEWER, Role.AUDITOR)
    assert can_assign_role([SUPERADMIN], None, Role.OWNER)


def test_mfa_policy() -> None:
    required = {"superadmin", "owner", "admin"}
    assert needs_mfa_enrolment(["owner"], False, required)
    assert not needs_mfa_enrolment(["owner"], True, required)
    assert not needs_mfa_enrolment(["developer"], False, required)


def test_principal_checks_scope_and_tenant() -> None:
    p = Principal("ten_a", "usr_1", PrincipalKind.USER, frozenset({"owner"}), frozenset({"keys:read"}))
    p.require("keys:read")
    with pytest.raises(MissingScope) as missing:
        p.require("keys:sign")
    assert isinstance(missing.value, PermissionDenied)
    p.require_tenant("ten_a")
    with pytest.raises(TenantMismatch):
        p.require_tenant("ten_b")
    root = Principal("_platform", "usr_0", PrincipalKind.USER, frozenset({SUPERADMIN}), ALL_SCOPES)
    root.require_tenant("ten_b")
    key = Principal(
        "ten_a", "key_1", PrincipalKind.API_KEY, frozenset({SUPERADMIN}), frozenset(), key_id="key_1"
    )
    assert not key.is_superadmin  # a role name on an API key means nothing
    assert key.actor == "api_key:key_1"


def test_claims_round_trip_and_refuse_malformed() -> None:
    claims = TokenClaims("usr_1", "ten_a", ("owner",), ("keys:read",), "j1", 10, 20, "iss", "aud", sid="s1")
    assert TokenClaims.from_dict(claims.to_dict()) == claims
    for broken in (
        {**claims.to_dict(), "roles": "owner"},
        {**claims.to_dict(), "exp": "20"},
        {k: v for k, v in claims.to_dict().items() if k != "tenant"},
        {**claims.to_dict(), "sub": ""},
        {**claims.to_dict(), "exp": True},
    ):
        with pytest.raises(InvalidToken):
            TokenClaims.from_dict(broken)
