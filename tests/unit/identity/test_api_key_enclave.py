"""API keys issued through the enclave: the key the identity service hands out, and the claims the
bearer authenticator reads for it, are exactly what the enclave's rule accepts (and revocations reach it).

The port is served by the enclave's own ``TenantCredentials`` (in memory), as the enclave process would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.tenant_credentials import TenantCredentials
from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.keys import CredentialRequired
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import Role
from neo_service_layer.kernel.identity.use_cases.api_keys import ApiKeyService
from tests.scopes import CATALOGUE, TENANT_SCOPES
from tests.unit.identity.conftest import PASSWORD, World


@dataclass
class EnclavePort:
    """``EnclaveCredentials`` over the enclave's rule, as the RPC would carry it."""

    rule: TenantCredentials
    credential: dict[str, Any] | None = None
    revoked: list[str] = field(default_factory=list)

    def with_credential(self, credential: ApiKeyCredential | None) -> EnclavePort:
        wire = None if credential is None else credential.to_wire()
        return EnclavePort(self.rule, wire, self.revoked)

    async def issue_api_key(
        self, *, tenant: str, key_id: str, prefix: str, scopes: list[str], expires_at: int | None
    ) -> str:
        return self.rule.issue(
            tenant=tenant,
            key_id=key_id,
            prefix=prefix,
            scopes=scopes,
            expires_at=expires_at,
            presented=self.credential,
        )

    async def revoke_api_key(self, key_id: str) -> None:
        self.revoked.append(key_id)
        self.rule.revoke(key_id)

    async def tenant_credentials(
        self, tenant: str, enabled: bool | None = None, *, fresh_start: bool = False
    ) -> bool:
        if enabled is not None:
            self.rule.set_enforcing(tenant, enabled, self.credential, fresh_start=fresh_start)
        return self.rule.is_enforcing(tenant)


def _service(world: World, port: EnclavePort) -> ApiKeyService:
    return ApiKeyService(
        uow=world.uow, box=world.box, audit=world.audit, clock=world.clock, catalogue=CATALOGUE, enclave=port
    )


async def _developer(world: World) -> tuple[str, Principal]:
    acme = await world.tenant("acme")
    await world.member(acme, "dev", Role.DEVELOPER)
    dev = await world.auth.authenticate((await world.auth.sign_in("dev", PASSWORD)).access_token)
    return acme.id, dev


async def test_the_issued_key_and_its_claims_pass_the_enclaves_check(world: World) -> None:
    rule = TenantCredentials(Sealer(b"s" * 32), None, clock=lambda: world.clock.now().timestamp())
    port = EnclavePort(rule)
    tenant, dev = await _developer(world)
    expires = world.clock.now() + timedelta(days=1, microseconds=123_456)  # whole seconds are bound
    key, secret = await _service(world, port).create(
        dev, tenant, name="ci", scopes=["keys:sign", "apikeys:admin"], expires_at=expires
    )
    assert key.expires_at == expires.replace(microsecond=0)
    principal = await world.auth.authenticate(secret)
    assert principal.kind is PrincipalKind.API_KEY
    credential = principal.credential
    assert credential is not None
    assert credential.api_key == secret
    assert (credential.tenant, credential.key_id) == (tenant, key.id)
    assert credential.expires_at == int(expires.timestamp())
    assert rule.verify(credential.to_wire(), tenant, "keys:sign") == credential
    assert "nsl_" not in repr(principal)  # the raw key never shows in a repr (logs)


async def test_a_session_cannot_issue_keys_of_an_enforcing_tenant_and_revocation_reaches_the_enclave(
    world: World,
) -> None:
    rule = TenantCredentials(Sealer(b"s" * 32), None)
    port = EnclavePort(rule)
    service = _service(world, port)
    tenant, dev = await _developer(world)
    owner = Principal(
        tenant_id=tenant,
        subject="usr_owner",
        kind=PrincipalKind.USER,
        roles=frozenset({"owner"}),
        scopes=TENANT_SCOPES,
    )
    admin_key, admin_secret = await service.create(
        owner, tenant, name="admin", scopes=["tenants:admin", "apikeys:admin", "keys:sign"]
    )
    admin = await world.auth.authenticate(admin_secret)
    assert await port.with_credential(admin.credential).tenant_credentials(tenant, True) is True
    with pytest.raises(CredentialRequired, match="none was presented"):
        await service.create(dev, tenant, name="x", scopes=["keys:sign"])
    signer_key, signer_secret = await service.create(admin, tenant, name="ci", scopes=["keys:sign"])
    signer = await world.auth.authenticate(signer_secret)
    assert signer.credential is not None
    await service.revoke(admin, tenant, signer_key.id)
    assert port.revoked == [signer_key.id]
    with pytest.raises(CredentialRequired, match="revoked"):
        rule.verify(signer.credential.to_wire(), tenant, "keys:sign")
    assert admin_key.id not in port.revoked


async def test_without_an_enclave_keys_are_random_as_before(world: World) -> None:
    tenant, dev = await _developer(world)
    _, secret = await world.api_keys.create(dev, tenant, name="ci", scopes=["keys:sign"])
    assert len(secret.split("_", 2)[2]) == 43
