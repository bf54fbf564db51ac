"""Sign-in, lockout, MFA, refresh rotation with reuse detection, logout and API-key authentication."""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind, Scopes
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, Role
from neo_service_layer.kernel.identity.rules.audit import Actions, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import (
    InvalidApiKey,
    InvalidCredentials,
    InvalidMfaCode,
    MfaRequired,
    MissingScope,
    NotAMember,
    RefreshReuseDetected,
    TenantRequired,
    TokenExpired,
    TokenRevoked,
    UserNotFound,
)
from neo_service_layer.kernel.identity.rules.rate_limits import SignInThrottled
from neo_service_layer.services.keys.scopes import KEYS_SIGN
from tests.unit.identity.conftest import PASSWORD, SUPER, World

META = RequestMeta(request_id="req-1", client_ip="198.51.100.7")


async def test_sign_in_issues_tokens_for_the_only_tenant(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    issued = await world.auth.sign_in("dev", PASSWORD, meta=META)
    assert issued.tenant_id == acme.id
    assert issued.roles == ("developer",)
    assert KEYS_SIGN in issued.scopes
    assert issued.refresh_token is not None
    assert issued.refresh_token.startswith("nslr_")
    principal = await world.auth.authenticate(issued.access_token)
    assert principal.tenant_id == acme.id
    assert principal.kind is PrincipalKind.USER
    assert ("auth.login", "success") in world.audit.actions(acme.id)
    # the refresh token is stored only as a keyed hash
    (stored,) = world.store.refresh_tokens.values()
    assert issued.refresh_token not in stored.token_hash


async def test_several_tenants_need_a_choice(world: World) -> None:
    a, b = await world.tenant("alpha"), await world.tenant("beta")
    await world.member(a, "dev", Role.DEVELOPER)
    await world.identity.add_member(SUPER, b.id, username="dev", role=Role.VIEWER)
    with pytest.raises(TenantRequired):
        await world.auth.sign_in("dev", PASSWORD)
    assert (await world.auth.sign_in("dev", PASSWORD, tenant="beta")).roles == ("viewer",)
    assert (await world.auth.sign_in("dev", PASSWORD, tenant=a.id)).roles == ("developer",)
    with pytest.raises(NotAMember):
        await world.auth.sign_in("dev", PASSWORD, tenant="gamma")


async def test_unknown_user_and_wrong_password_look_the_same(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    before = world.hasher.verifications
    with pytest.raises(InvalidCredentials) as unknown:
        await world.auth.sign_in("nobody", PASSWORD, meta=META)
    assert world.hasher.verifications == before + 1  # a dummy hash was verified
    with pytest.raises(InvalidCredentials) as wrong:
        await world.auth.sign_in("dev", "wrong password here", meta=META)
    assert str(unknown.value) == str(wrong.value)
    assert world.audit.actions(PLATFORM_TENANT)[-2:] == [("auth.login", "failure")] * 2


async def test_failures_from_one_client_do_not_stop_another_client(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    attacker = RequestMeta(client_ip="198.51.100.66")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.auth.sign_in("dev", "wrong password here", meta=attacker)
    with pytest.raises(SignInThrottled):
        await world.auth.sign_in("dev", PASSWORD, meta=attacker)  # even the right password waits
    owner = RequestMeta(client_ip="192.0.2.10")
    assert (await world.auth.sign_in("DEV", PASSWORD, meta=owner)).tenant_id == acme.id


async def test_a_failing_client_waits_longer_each_time_until_it_succeeds(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await world.auth.sign_in("dev", "wrong password here", meta=META)
    waits = []
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await world.auth.sign_in("dev", "wrong password here", meta=META)
        with pytest.raises(SignInThrottled) as throttled:
            await world.auth.sign_in("dev", "wrong password here", meta=META)
        waits.append(throttled.value.retry_after)
        world.clock.advance(seconds=throttled.value.retry_after)
    assert waits == [1, 2, 4, 8]
    assert (await world.auth.sign_in("dev", PASSWORD, meta=META)).tenant_id == acme.id
    # success clears this client's count on this account: the next mistake costs nothing again
    with pytest.raises(InvalidCredentials):
        await world.auth.sign_in("dev", "wrong password here", meta=META)
    assert (await world.auth.sign_in("dev", PASSWORD, meta=META)).tenant_id == acme.id


async def test_unknown_users_are_throttled_the_same_way(world: World) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.auth.sign_in("ghost", "wrong password here", meta=META)
    with pytest.raises(SignInThrottled):
        await world.auth.sign_in("ghost", "wrong password here", meta=META)


async def test_one_address_failing_on_many_accounts_waits_on_every_account(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    for i in range(20):
        with pytest.raises(InvalidCredentials):
            await world.auth.sign_in(f"user{i}", "wrong password here", meta=META)
    with pytest.raises(SignInThrottled):
        await world.auth.sign_in("dev", PASSWORD, meta=META)
    assert (await world.auth.sign_in("dev", PASSWORD, meta=RequestMeta(client_ip="192.0.2.1"))).roles


async def test_an_account_under_attack_slows_every_client_but_refuses_no_fresh_one(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    alarm = world.auth.policy.lockout.account_alarm
    for i in range(alarm):  # a botnet: one failure per address
        with pytest.raises(InvalidCredentials):
            await world.auth.sign_in("dev", "wrong password here", meta=RequestMeta(client_ip=f"10.1.{i}.1"))
    late = RequestMeta(client_ip="10.2.0.1")
    with pytest.raises(InvalidCredentials):
        await world.auth.sign_in("dev", "wrong password here", meta=late)
    with pytest.raises(SignInThrottled):  # one free failure only, while the account is under attack
        await world.auth.sign_in("dev", "wrong password here", meta=late)
    fresh = RequestMeta(client_ip="192.0.2.77")
    assert (await world.auth.sign_in("dev", PASSWORD, meta=fresh)).tenant_id == acme.id


async def test_failed_sign_ins_never_write_to_a_tenant_audit_chain(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    before = list(world.audit.actions(acme.id))
    for _ in range(6):
        with pytest.raises((InvalidCredentials, SignInThrottled)):
            await world.auth.sign_in("dev", "wrong password here", tenant="acme", meta=META)
    with pytest.raises(InvalidCredentials):
        await world.auth.sign_in("nobody", "wrong password here", tenant=acme.id)
    assert world.audit.actions(acme.id) == before
    platform = world.audit.actions(PLATFORM_TENANT)
    assert platform.count(("auth.login", "failure")) == 6
    assert platform.count(("auth.login", "denied")) == 1
    await world.auth.sign_in("dev", PASSWORD, tenant="acme")
    assert world.audit.actions(acme.id)[-1] == ("auth.login", "success")


async def test_admins_without_mfa_get_an_enrolment_only_token(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "boss", Role.OWNER)
    limited = await world.auth.sign_in("boss", PASSWORD)
    assert limited.mfa_enrollment_required
    assert limited.scopes == (Scopes.AUTH_MFA,)
    assert limited.refresh_token is None
    principal = await world.auth.authenticate(limited.access_token)
    uri = await world.auth.start_totp(principal)
    assert uri.startswith("otpauth://totp/")
    user = next(iter(world.store.users.values()))
    secret = uri.split("secret=")[1].split("&")[0]
    assert user.totp_pending is not None
    assert secret.encode() not in user.totp_pending  # sealed, not in the clear
    with pytest.raises(InvalidMfaCode):
        await world.auth.confirm_totp(principal, "000000" if world.totp_now(uri) != "000000" else "111111")
    codes = await world.auth.confirm_totp(principal, world.totp_now(uri))
    assert len(codes) == 10
    assert len(set(codes)) == 10
    # from now on, the second factor is required
    with pytest.raises(MfaRequired):
        await world.auth.sign_in("boss", PASSWORD)
    world.clock.advance(seconds=30)
    full = await world.auth.sign_in("boss", PASSWORD, totp_code=world.totp_now(uri))
    assert not full.mfa_enrollment_required
    assert Scopes.APIKEYS_ADMIN in full.scopes
    # the same code again is a replay
    with pytest.raises(InvalidMfaCode):
        await world.auth.sign_in("boss", PASSWORD, totp_code=world.totp_now(uri))
    # backup codes work once each
    assert (await world.auth.sign_in("boss", PASSWORD, backup_code=codes[0].upper())).refresh_token
    with pytest.raises(InvalidMfaCode):
        await world.auth.sign_in("boss", PASSWORD, backup_code=codes[0])
    actions = [a for a, _ in world.audit.actions(acme.id)] + [
        a for a, _ in world.audit.actions(PLATFORM_TENANT)
    ]
    assert Actions.MFA_ENROLL in actions
    assert Actions.MFA_ENABLED in actions
    assert Actions.MFA_BACKUP_CODE_USED in actions


async def test_wrong_totp_codes_count_towards_lockout(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "boss", Role.ADMIN)
    principal = await world.auth.authenticate((await world.auth.sign_in("boss", PASSWORD)).access_token)
    uri = await world.auth.start_totp(principal)
    await world.auth.confirm_totp(principal, world.totp_now(uri))
    world.clock.advance(seconds=90)
    good = world.totp_now(uri)
    bad = "123456" if good != "123456" else "654321"
    for _ in range(5):
        with pytest.raises(InvalidMfaCode):
            await world.auth.sign_in("boss", PASSWORD, totp_code=bad)
    with pytest.raises(SignInThrottled):
        await world.auth.sign_in("boss", PASSWORD, totp_code=good)


async def test_refresh_rotates_and_reuse_revokes_the_family(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    first = await world.auth.sign_in("dev", PASSWORD)
    assert first.refresh_token
    world.clock.advance(minutes=5)
    second = await world.auth.refresh(first.refresh_token)
    assert second.refresh_token
    assert second.refresh_token != first.refresh_token
    assert (await world.auth.authenticate(second.access_token)).session_id == (
        await world.auth.authenticate(first.access_token)
    ).session_id
    # an attacker replays the first (rotated) token: the whole session dies
    with pytest.raises(RefreshReuseDetected):
        await world.auth.refresh(first.refresh_token)
    with pytest.raises(TokenRevoked):
        await world.auth.refresh(second.refresh_token)
    assert ("auth.refresh_reuse", "denied") in world.audit.actions(acme.id)


async def test_refresh_tokens_expire_after_thirty_days(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    issued = await world.auth.sign_in("dev", PASSWORD)
    assert issued.refresh_token
    world.clock.advance(days=30, seconds=1)
    with pytest.raises(TokenExpired):
        await world.auth.refresh(issued.refresh_token)


async def test_refresh_follows_role_changes_and_removal(world: World) -> None:
    acme = await world.tenant("acme")
    member = await world.member(acme, "dev", Role.DEVELOPER)
    issued = await world.auth.sign_in("dev", PASSWORD)
    assert issued.refresh_token
    await world.identity.change_role(SUPER, acme.id, member.user_id, Role.VIEWER)
    again = await world.auth.refresh(issued.refresh_token)
    assert again.roles == ("viewer",)
    assert again.refresh_token
    await world.identity.remove_member(SUPER, acme.id, member.user_id)
    with pytest.raises(TokenRevoked):  # removal revoked the member's sessions in the tenant
        await world.auth.refresh(again.refresh_token)
    with pytest.raises(TokenRevoked):  # and the bearer check sees the membership gone
        await world.auth.authenticate(again.access_token)


async def test_removing_a_member_ends_only_that_tenants_sessions_and_keys(world: World) -> None:
    a, b = await world.tenant("alpha"), await world.tenant("beta")
    member = await world.member(a, "dev", Role.DEVELOPER)
    await world.identity.add_member(SUPER, b.id, username="dev", role=Role.DEVELOPER)
    in_a = await world.auth.sign_in("dev", PASSWORD, tenant="alpha")
    in_b = await world.auth.sign_in("dev", PASSWORD, tenant="beta")
    dev_a = await world.auth.authenticate(in_a.access_token)
    dev_b = await world.auth.authenticate(in_b.access_token)
    _, key_a = await world.api_keys.create(dev_a, a.id, name="ci", scopes=[KEYS_SIGN])
    _, key_b = await world.api_keys.create(dev_b, b.id, name="ci", scopes=[KEYS_SIGN])
    await world.identity.remove_member(SUPER, a.id, member.user_id)
    for credential in (in_a.access_token, key_a):
        with pytest.raises((TokenRevoked, InvalidApiKey)):
            await world.auth.authenticate(credential)
    assert in_a.refresh_token
    assert in_b.refresh_token
    with pytest.raises(TokenRevoked):
        await world.auth.refresh(in_a.refresh_token)
    assert (await world.auth.authenticate(in_b.access_token)).tenant_id == b.id
    assert (await world.auth.authenticate(key_b)).tenant_id == b.id
    assert (await world.auth.refresh(in_b.refresh_token)).tenant_id == b.id


async def test_disabling_a_user_ends_every_session_and_key(world: World) -> None:
    a, b = await world.tenant("alpha"), await world.tenant("beta")
    member = await world.member(a, "dev", Role.DEVELOPER)
    await world.identity.add_member(SUPER, b.id, username="dev", role=Role.DEVELOPER)
    in_a = await world.auth.sign_in("dev", PASSWORD, tenant="alpha")
    in_b = await world.auth.sign_in("dev", PASSWORD, tenant="beta")
    dev_b = await world.auth.authenticate(in_b.access_token)
    _, key_b = await world.api_keys.create(dev_b, b.id, name="ci", scopes=[KEYS_SIGN])
    await world.identity.disable_user(SUPER, member.user_id)
    for credential in (in_a.access_token, in_b.access_token, key_b):
        with pytest.raises((TokenRevoked, InvalidApiKey)):
            await world.auth.authenticate(credential)
    for refresh in (in_a.refresh_token, in_b.refresh_token):
        assert refresh
        with pytest.raises(TokenRevoked):
            await world.auth.refresh(refresh)
    with pytest.raises(InvalidCredentials):
        await world.auth.sign_in("dev", PASSWORD, tenant="alpha")
    assert ("user.disable", "success") in world.audit.actions(PLATFORM_TENANT)
    assert ("user.disable", "success") in world.audit.actions(b.id)


async def test_logout_revokes_access_and_refresh_tokens(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    issued = await world.auth.sign_in("dev", PASSWORD)
    assert issued.refresh_token
    principal = await world.auth.authenticate(issued.access_token)
    await world.auth.logout(principal)
    with pytest.raises(TokenRevoked):
        await world.auth.authenticate(issued.access_token)
    with pytest.raises(TokenRevoked):
        await world.auth.refresh(issued.refresh_token)


async def test_expired_access_tokens_are_refused(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    issued = await world.auth.sign_in("dev", PASSWORD)
    world.clock.advance(minutes=15, seconds=11)
    with pytest.raises(TokenExpired):
        await world.auth.authenticate(issued.access_token)


async def test_api_keys_authenticate_until_revoked_or_expired(world: World) -> None:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    dev = await world.auth.authenticate((await world.auth.sign_in("dev", PASSWORD)).access_token)
    key, secret = await world.api_keys.create(dev, acme.id, name="ci", scopes=["keys:sign", "keys:read"])
    assert secret.startswith(f"nsl_{key.prefix}_")
    assert secret.split("_", 2)[2] not in key.secret_hash
    principal = await world.auth.authenticate(secret)
    assert principal.kind is PrincipalKind.API_KEY
    assert principal.scopes == {"keys:sign", "keys:read"}
    assert principal.tenant_id == acme.id
    assert world.store.api_keys[key.id].last_used_at == world.clock.now()
    with pytest.raises(InvalidApiKey):
        await world.auth.authenticate(secret[:-2] + "zz")
    with pytest.raises(InvalidApiKey):
        await world.auth.authenticate("nsl_nope")
    await world.api_keys.revoke(dev, acme.id, key.id)
    with pytest.raises(InvalidApiKey, match="revoked"):
        await world.auth.authenticate(secret)
    assert ("apikey.refused", "denied") in world.audit.actions(acme.id)
    expiring, secret2 = await world.api_keys.create(
        dev, acme.id, name="short", scopes=["keys:read"], expires_at=world.clock.now().replace(year=2027)
    )
    assert (await world.auth.authenticate(secret2)).key_id == expiring.id
    world.clock.advance(days=400)
    with pytest.raises(InvalidApiKey):
        await world.auth.authenticate(secret2)


async def test_only_a_superadmin_disables_and_never_themselves(world: World) -> None:
    acme = await world.tenant("acme")
    member = await world.member(acme, "dev", Role.OWNER)
    owner = Principal(
        acme.id, "usr_owner", PrincipalKind.USER, frozenset({"owner"}), frozenset({"tenants:admin"})
    )
    with pytest.raises(MissingScope):
        await world.identity.disable_user(owner, member.user_id)
    with pytest.raises(InvalidInput):
        await world.identity.disable_user(SUPER, SUPER.subject)
    with pytest.raises(UserNotFound):
        await world.identity.disable_user(SUPER, "usr_nobody")
    assert not world.store.users[member.user_id].disabled
