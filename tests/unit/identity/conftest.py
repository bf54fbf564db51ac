"""Identity services wired to in-memory fakes, real crypto at test cost, and a controllable clock."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from neo_service_layer.kernel.identity.adapters.jwt import Es256Codec
from neo_service_layer.kernel.identity.adapters.passwords import Argon2Hasher
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox
from neo_service_layer.kernel.identity.adapters.totp import PyOtpAuthenticator
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, Membership, Role, Tenant
from neo_service_layer.kernel.identity.use_cases.api_keys import ApiKeyService
from neo_service_layer.kernel.identity.use_cases.auth import AuthService
from neo_service_layer.kernel.identity.use_cases.auth_policy import AuthPolicy
from neo_service_layer.kernel.identity.use_cases.users import IdentityService
from tests.scopes import ALL_SCOPES, CATALOGUE
from tests.unit.identity.fakes import FakeAuditLog, FakeClock, FakeUnitOfWork, Store

ISSUER = "nsl-test"
AUDIENCE = "nsl-test-api"
PASSWORD = "a long enough pass phrase"


class CountingHasher(Argon2Hasher):
    """The real argon2id at test cost, counting verifications (to prove the dummy-hash path runs)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=64, parallelism=1)
        self.verifications = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return await super().verify(password_hash, password)


@dataclass
class World:
    store: Store
    clock: FakeClock
    audit: FakeAuditLog
    hasher: CountingHasher
    box: AesGcmBox
    codec: Es256Codec
    auth: AuthService
    identity: IdentityService
    api_keys: ApiKeyService

    def uow(self, tenant_id: str | None) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, tenant_id)

    def codec_for(self, *, audience: str = AUDIENCE, issuer: str = ISSUER) -> Es256Codec:
        """Another verifier over the same keys (another service's audience, say)."""
        return Es256Codec(
            uow=self.uow,
            box=self.box,
            clock=self.clock,
            issuer=issuer,
            audience=audience,
            publish_for=timedelta(minutes=15, seconds=10),
        )

    async def tenant(self, name: str) -> Tenant:
        return await self.identity.create_tenant(SUPER, name)

    async def member(self, tenant: Tenant, username: str, role: Role, password: str = PASSWORD) -> Membership:
        actor = Principal(
            tenant_id=tenant.id,
            subject="usr_setup",
            kind=SUPER.kind,
            roles=frozenset({"superadmin"}),
            scopes=SUPER.scopes,
        )
        return await self.identity.add_member(
            actor, tenant.id, username=username, role=role, password=password
        )

    def totp_now(self, uri: str, offset: int = 0) -> str:
        secret = parse_qs(urlparse(uri).query)["secret"][0]
        code: str = pyotp.TOTP(secret).at(self.clock.now(), counter_offset=offset)
        return code


SUPER = Principal(
    tenant_id=PLATFORM_TENANT,
    subject="usr_root",
    kind=PrincipalKind.USER,
    roles=frozenset({"superadmin"}),
    scopes=ALL_SCOPES,
)


@pytest.fixture
def world() -> World:
    store = Store()
    clock = FakeClock()
    audit = FakeAuditLog(clock)
    hasher = CountingHasher()
    box = AesGcmBox(os.urandom(32))

    def uow(tenant_id: str | None) -> FakeUnitOfWork:
        return FakeUnitOfWork(store, tenant_id)

    policy = AuthPolicy(issuer=ISSUER, audience=AUDIENCE)
    codec = Es256Codec(
        uow=uow,
        box=box,
        clock=clock,
        issuer=ISSUER,
        audience=AUDIENCE,
        publish_for=policy.access_ttl + timedelta(seconds=policy.leeway_seconds),
    )
    auth = AuthService(
        uow=uow,
        hasher=hasher,
        box=box,
        codec=codec,
        totp=PyOtpAuthenticator("NSL test"),
        audit=audit,
        clock=clock,
        policy=policy,
        catalogue=CATALOGUE,
    )
    identity = IdentityService(uow=uow, hasher=hasher, audit=audit, clock=clock)
    api_keys = ApiKeyService(uow=uow, box=box, audit=audit, clock=clock, catalogue=CATALOGUE)
    return World(store, clock, audit, hasher, box, codec, auth, identity, api_keys)
