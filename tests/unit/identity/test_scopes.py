"""Roles -> scopes (the scope catalogue), API-key scope subsets, who may assign which role, principals."""

from __future__ import annotations

import pytest

from neo_service_layer.bootstrap import scope_catalogue
from neo_service_layer.enclave.wire.errors import InvalidInput, PermissionDenied
from neo_service_layer.kernel.identity.rules.access import (
    Principal,
    PrincipalKind,
    ScopeCatalogue,
    ScopeGrant,
    Scopes,
    needs_mfa_enrolment,
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
from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.registry import SERVICES
from neo_service_layer.services.automation.scopes import AUTOMATION_READ
from neo_service_layer.services.compute.scopes import COMPUTE_READ
from neo_service_layer.services.crosschain.scopes import CROSSCHAIN_READ
from neo_service_layer.services.keys.scopes import KEYS_ADMIN, KEYS_READ, KEYS_SIGN
from neo_service_layer.services.subscriptions.scopes import SUBSCRIPTIONS_READ
from tests.scopes import ALL_SCOPES, CATALOGUE, TENANT_SCOPES

KERNEL_TENANT_SCOPES = {"audit:read", "tenants:admin", "members:read", "apikeys:admin"}


def test_every_role_maps_to_known_tenant_scopes() -> None:
    assert set(CATALOGUE.role_scopes) == set(Role)
    for scopes in CATALOGUE.role_scopes.values():
        assert scopes <= TENANT_SCOPES
    assert {"auth:mfa", "platform:admin"} == ALL_SCOPES - TENANT_SCOPES


def test_the_registered_services_keep_the_role_table() -> None:
    """The kernel's grants plus the registry's services give exactly the table of docs/identity.md."""
    tenant = KERNEL_TENANT_SCOPES | {
        "keys:sign",
        "keys:admin",
        "keys:read",
        "randomness:request",
        "oracle:request",
        "secrets:write",
        "secrets:read",
        "attestation:read",
        "automation:read",
        "automation:write",
        "compute:read",
        "compute:write",
        "subscriptions:read",
        "subscriptions:write",
        "crosschain:read",
    }
    assert tenant == TENANT_SCOPES
    assert dict(CATALOGUE.role_scopes) == {
        Role.OWNER: tenant,
        Role.ADMIN: tenant,
        Role.DEVELOPER: {
            "keys:sign",
            "keys:read",
            "randomness:request",
            "oracle:request",
            "secrets:read",
            "secrets:write",
            "attestation:read",
            "automation:read",
            "automation:write",
            "compute:read",
            "compute:write",
            "subscriptions:read",
            "subscriptions:write",
            "crosschain:read",
            "members:read",
            "apikeys:admin",
        },
        Role.OPERATOR: {
            "keys:admin",
            "keys:read",
            "keys:sign",
            "randomness:request",
            "oracle:request",
            "attestation:read",
            "automation:read",
            "automation:write",
            "compute:read",
            "compute:write",
            "subscriptions:read",
            "subscriptions:write",
            "crosschain:read",
            "members:read",
        },
        Role.AUDITOR: {
            "audit:read",
            "keys:read",
            "members:read",
            "automation:read",
            "compute:read",
            "subscriptions:read",
            "crosschain:read",
        },
        Role.VIEWER: {
            "keys:read",
            "members:read",
            "automation:read",
            "compute:read",
            "subscriptions:read",
            "crosschain:read",
        },
    }


def test_role_mapping_examples() -> None:
    assert CATALOGUE.scopes_for_roles(["owner"]) == TENANT_SCOPES
    assert KEYS_SIGN in CATALOGUE.scopes_for_roles(["developer"])
    assert KEYS_ADMIN not in CATALOGUE.scopes_for_roles(["developer"])
    assert CATALOGUE.scopes_for_roles(["auditor"]) == {
        Scopes.AUDIT_READ,
        KEYS_READ,
        Scopes.MEMBERS_READ,
        AUTOMATION_READ,
        COMPUTE_READ,
        SUBSCRIPTIONS_READ,
        CROSSCHAIN_READ,
    }
    assert Scopes.AUDIT_READ not in CATALOGUE.scopes_for_roles(["viewer"])
    assert CATALOGUE.scopes_for_roles([SUPERADMIN]) == ALL_SCOPES
    assert Scopes.PLATFORM_ADMIN not in CATALOGUE.scopes_for_roles(["owner"])
    assert CATALOGUE.scopes_for_roles(["viewer", "auditor"]) == {
        Scopes.AUDIT_READ,
        KEYS_READ,
        Scopes.MEMBERS_READ,
        AUTOMATION_READ,
        COMPUTE_READ,
        SUBSCRIPTIONS_READ,
        CROSSCHAIN_READ,
    }


def test_user_tokens_carry_mfa_self_service() -> None:
    assert Scopes.AUTH_MFA in CATALOGUE.user_token_scopes(["viewer"])
    assert CATALOGUE.user_token_scopes(["viewer"]) == {
        KEYS_READ,
        Scopes.MEMBERS_READ,
        Scopes.AUTH_MFA,
        AUTOMATION_READ,
        COMPUTE_READ,
        SUBSCRIPTIONS_READ,
        CROSSCHAIN_READ,
    }


def test_api_key_scopes_are_a_non_empty_subset_of_the_creators() -> None:
    developer = CATALOGUE.scopes_for_roles(["developer"])
    assert api_key_scopes(["keys:sign", "randomness:request"], developer, CATALOGUE) == {
        "keys:sign",
        "randomness:request",
    }
    with pytest.raises(ScopeNotHeld):
        api_key_scopes(["keys:admin"], developer, CATALOGUE)
    with pytest.raises(InvalidInput):
        api_key_scopes([], developer, CATALOGUE)
    with pytest.raises(InvalidInput):
        api_key_scopes(["keys:teleport"], developer, CATALOGUE)
    with pytest.raises(InvalidInput):  # never for machines
        api_key_scopes([Scopes.AUTH_MFA], ALL_SCOPES, CATALOGUE)
    with pytest.raises(InvalidInput):
        api_key_scopes([Scopes.PLATFORM_ADMIN], ALL_SCOPES, CATALOGUE)


def test_the_kernel_alone_knows_only_its_own_scopes() -> None:
    kernel = ScopeCatalogue()
    assert kernel.tenant_scopes == KERNEL_TENANT_SCOPES
    assert kernel.scopes_for_roles(["developer"]) == {Scopes.MEMBERS_READ, Scopes.APIKEYS_ADMIN}
    with pytest.raises(InvalidInput, match="not API key scopes: keys:sign"):
        api_key_scopes([KEYS_SIGN], frozenset({KEYS_SIGN}), kernel)


def test_a_service_grant_gives_its_scope_to_its_roles_and_to_owners_and_admins() -> None:
    catalogue = ScopeCatalogue((ScopeGrant("echo:shout", (Role.DEVELOPER,)), ScopeGrant("echo:admin")))
    assert {"echo:shout", "echo:admin"} <= catalogue.scopes_for_roles(["owner"])
    assert {"echo:shout", "echo:admin"} <= catalogue.scopes_for_roles(["admin"])
    assert "echo:shout" in catalogue.user_token_scopes(["developer"])
    assert "echo:admin" not in catalogue.scopes_for_roles(["developer"])
    assert "echo:shout" not in catalogue.scopes_for_roles(["viewer"])
    assert "echo:admin" in catalogue.scopes_for_roles([SUPERADMIN])
    developer = catalogue.scopes_for_roles(["developer"])
    assert api_key_scopes(["echo:shout"], developer, catalogue) == {"echo:shout"}


def test_a_scope_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'echo:shout' is declared twice"):
        ScopeCatalogue((ScopeGrant("echo:shout"), ScopeGrant("echo:shout", (Role.VIEWER,))))
    for kernel_scope in (Scopes.MEMBERS_READ, Scopes.AUTH_MFA, Scopes.PLATFORM_ADMIN):
        with pytest.raises(ValueError, match="declared twice"):
            ScopeCatalogue((ScopeGrant(kernel_scope),))
    again = ServiceDescriptor(
        name="keys-again", summary="declares keys:sign again", scopes=(ScopeGrant(KEYS_SIGN),)
    )
    with pytest.raises(ValueError, match="'keys:sign' is declared twice"):
        scope_catalogue((*SERVICES, again))


def test_a_scope_is_service_colon_action_granted_to_tenant_roles() -> None:
    for bad in ("echo", "Echo:Shout", "echo:", ":shout", "echo:shout:loud", "echo shout:x"):
        with pytest.raises(ValueError, match="service:action"):
            ScopeGrant(bad)
    with pytest.raises(ValueError, match="not a tenant role"):
        ScopeGrant("echo:shout", ("developer",))  # type: ignore[arg-type]


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
