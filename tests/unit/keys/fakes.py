"""In-memory fakes for the keys and secrets services (they record state; no mocks)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Self

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.keys import (
    DestructionRefused,
    KeyInfo,
    KeyKind,
    KeyPolicy,
    KeyStatus,
    PolicyDenied,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.kernel.identity.rules.audit import AuditRecord
from neo_service_layer.services.keys.rules import ManagedKey
from neo_service_layer.services.secrets.ports import RememberedSource
from neo_service_layer.services.secrets.rules import TenantSecret


@dataclass
class Store:
    keys: dict[str, ManagedKey] = field(default_factory=dict)
    sealed: dict[tuple[str, int], bytes] = field(default_factory=dict)
    secrets: dict[tuple[str, str], TenantSecret] = field(default_factory=dict)
    secret_blobs: dict[tuple[str, str, int], bytes] = field(default_factory=dict)
    sources: dict[tuple[str, str], RememberedSource] = field(default_factory=dict)
    tenants: list[str] = field(default_factory=list)
    commits: int = 0


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self) -> Store:
        return self.uow.staged

    def tenant(self, tenant_id: str) -> None:
        assert self.uow.tenant_id == tenant_id, "a tenant query outside its tenant's unit of work"


class FakeKeys(_Repo):
    async def add(self, key: ManagedKey) -> None:
        self.tenant(key.tenant_id)
        self.s.keys[key.key_id] = key

    async def get(self, tenant_id: str, key_id: str) -> ManagedKey | None:
        self.tenant(tenant_id)
        key = self.s.keys.get(key_id)
        return key if key is not None and key.tenant_id == tenant_id else None

    async def for_tenant(self, tenant_id: str) -> list[ManagedKey]:
        self.tenant(tenant_id)
        return [k for k in self.s.keys.values() if k.tenant_id == tenant_id]

    async def save(self, key: ManagedKey) -> None:
        self.tenant(key.tenant_id)
        self.s.keys[key.key_id] = key


class FakeSealed(_Repo):
    async def put(self, key_id: str, version: int, sealed: bytes, created_at: object) -> None:
        self.s.sealed[(key_id, version)] = sealed

    async def get(self, key_id: str, version: int | None) -> bytes | None:
        versions = [v for (k, v) in self.s.sealed if k == key_id]
        if not versions:
            return None
        return self.s.sealed.get((key_id, version or max(versions)))

    async def delete_key(self, key_id: str) -> int:
        gone = [k for k in self.s.sealed if k[0] == key_id]
        for k in gone:
            del self.s.sealed[k]
        return len(gone)


class FakeSecrets(_Repo):
    async def get(self, tenant_id: str, name: str) -> TenantSecret | None:
        self.tenant(tenant_id)
        return self.s.secrets.get((tenant_id, name))

    async def for_tenant(self, tenant_id: str) -> list[TenantSecret]:
        self.tenant(tenant_id)
        return [v for (t, _), v in sorted(self.s.secrets.items()) if t == tenant_id]

    async def save(self, secret: TenantSecret, sealed: bytes | None = None) -> None:
        self.tenant(secret.tenant_id)
        self.s.secrets[(secret.tenant_id, secret.name)] = secret
        if sealed is not None:
            self.s.secret_blobs[(secret.tenant_id, secret.name, secret.current_version)] = sealed

    async def sealed(self, tenant_id: str, name: str, version: int) -> bytes | None:
        self.tenant(tenant_id)
        return self.s.secret_blobs.get((tenant_id, name, version))

    async def delete(self, tenant_id: str, name: str) -> bool:
        self.tenant(tenant_id)
        return self.s.secrets.pop((tenant_id, name), None) is not None


class FakeSources(_Repo):
    async def put(self, source: RememberedSource) -> None:
        self.tenant(source.tenant_id)
        self.s.sources[(source.tenant_id, source.name)] = source

    async def get(self, tenant_id: str, name: str) -> RememberedSource | None:
        self.tenant(tenant_id)
        return self.s.sources.get((tenant_id, name))

    async def for_tenant(self, tenant_id: str) -> list[RememberedSource]:
        self.tenant(tenant_id)
        return [v for (t, _), v in self.s.sources.items() if t == tenant_id]


class FakeUnitOfWork:
    """Edits a copy of the store; ``commit`` writes it back, leaving without commit discards it."""

    def __init__(self, store: Store, tenant_id: str | None) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.staged = store
        self.keys = FakeKeys(self)
        self.sealed_records = FakeSealed(self)
        self.secrets = FakeSecrets(self)
        self.secret_sources = FakeSources(self)

    async def __aenter__(self) -> Self:
        self.staged = copy.deepcopy(self.store)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.staged = self.store

    async def commit(self) -> None:
        commits = self.store.commits
        self.store.__dict__.update(copy.deepcopy(self.staged).__dict__)
        self.store.commits = commits + 1

    async def rollback(self) -> None:
        self.staged = copy.deepcopy(self.store)

    async def tenant_ids(self) -> list[str]:
        return list(self.staged.tenants)


class FakeEnclave:
    """Records every call; 'signs' by tagging the message (the services never check signatures)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.policies: dict[str, KeyPolicy] = {}
        self.versions: dict[str, int] = {}
        self.destroyed: set[str] = set()
        self.disabled: set[str] = set()
        #: keys whose grace has not passed in the enclave's clock (destroy refused even if disabled)
        self.in_grace: set[str] = set()
        self.counter = 0
        #: the credential each use case sent along (``with_credential``), in call order
        self.presented: list[ApiKeyCredential | None] = []

    def with_credential(self, credential: ApiKeyCredential | None) -> FakeEnclave:
        """Itself, recording the caller's credential the use case passed down."""
        self.presented.append(credential)
        return self

    def _sealed(self, key_id: str, kind: KeyKind, version: int, tenant: str) -> SealedKey:
        public = bytes([2]) + bytes([self.counter]) * 32
        return SealedKey(
            KeyInfo(key_id, kind, version, public, KeyStatus.ACTIVE, tenant), b"sealed:" + public
        )

    async def create_key(self, kind: KeyKind, policy: KeyPolicy) -> SealedKey:
        self.counter += 1
        key_id = f"k_{self.counter}"
        self.policies[key_id] = policy
        self.versions[key_id] = 1
        self.calls.append(("create_key", key_id))
        return self._sealed(key_id, kind, 1, policy.tenant)

    async def sign_batch(
        self,
        key_id: str,
        messages: list[bytes],
        *,
        tenant: str,
        purpose: Purpose,
        fmt: SignatureFormat,
        version: int | None = None,
        network_magic: int | None = None,
    ) -> list[bytes]:
        self.calls.append(("sign_batch", (key_id, version, len(messages))))
        if tenant != self.policies[key_id].tenant:
            raise PolicyDenied("key belongs to another tenant")
        return [b"sig:" + m for m in messages]

    async def sign(self, key_id: str, message: bytes, **kwargs: object) -> bytes:
        return (await self.sign_batch(key_id, [message], **kwargs))[0]  # type: ignore[arg-type]

    async def rotate(self, key_id: str, *, tenant: str) -> SealedKey:
        self.counter += 1
        self.versions[key_id] += 1
        self.calls.append(("rotate", key_id))
        return self._sealed(key_id, KeyKind.SECP256R1, self.versions[key_id], tenant)

    async def disable(self, key_id: str, *, tenant: str) -> list[SealedKey]:
        self.calls.append(("disable", key_id))
        self.disabled.add(key_id)
        return []

    async def enable(self, key_id: str, *, tenant: str) -> list[SealedKey]:
        self.calls.append(("enable", key_id))
        self.disabled.discard(key_id)
        return []

    async def destroy(self, key_id: str, *, tenant: str) -> None:
        """Refuses as the enclave does: a key not disabled, or still in the enclave's grace."""
        self.calls.append(("destroy", key_id))
        if key_id not in self.disabled or key_id in self.in_grace:
            raise DestructionRefused("key is not disabled long enough")
        self.destroyed.add(key_id)

    async def seal(self, tenant: str, label: str, plaintext: bytes) -> bytes:
        self.calls.append(("seal", label))
        return b"SEALED(" + tenant.encode() + b"|" + label.encode() + b"|" + plaintext[::-1] + b")"

    async def unseal(self, tenant: str, label: str, blob: bytes) -> bytes:
        prefix = b"SEALED(" + tenant.encode() + b"|" + label.encode() + b"|"
        assert blob.startswith(prefix)
        return blob[len(prefix) : -1][::-1]


class FakeAudit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    async def record(self, record: AuditRecord) -> None:
        self.records.append(record)


class FakeCrypto:
    def check_public_key(self, kind: KeyKind, public_key: bytes) -> None:
        pass

    def verify(
        self,
        kind: KeyKind,
        fmt: SignatureFormat,
        public_key: bytes,
        message: bytes,
        signature: bytes,
        network_magic: int | None = None,
    ) -> bool:
        return signature == b"sig:" + message

    def addresses(self, kind: KeyKind, public_key: bytes) -> object:
        from neo_service_layer.services.keys.ports import KeyAddresses

        return KeyAddresses()
