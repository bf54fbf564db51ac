"""In-memory fakes of the identity ports that record state (no I/O, no mocks)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from neo_service_layer.kernel.identity.rules.accounts import Membership, Role, Tenant, User
from neo_service_layer.kernel.identity.rules.api_keys import ApiKey
from neo_service_layer.kernel.identity.rules.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainBreak,
    chain_entry,
    verify_chain,
)
from neo_service_layer.kernel.identity.rules.passwords import LockoutPolicy, LockoutState
from neo_service_layer.kernel.identity.rules.rate_limits import RateDecision
from neo_service_layer.kernel.identity.rules.tokens import RefreshToken, SigningKey


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Store:
    """The "database" of the fakes; a unit of work edits a copy and commits it back."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    backup_codes: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    memberships: dict[tuple[str, str], Membership] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    revoked: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    throttle: dict[str, LockoutState] = field(default_factory=dict)
    signing_keys: dict[str, SigningKey] = field(default_factory=dict)
    commits: int = 0


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self) -> Store:
        assert self.uow.staged is not None, "used outside `async with`"
        return self.uow.staged


class FakeTenants(_Repo):
    async def add(self, tenant: Tenant) -> None:
        self.s.tenants[tenant.id] = tenant

    async def get(self, tenant_id: str) -> Tenant | None:
        return self.s.tenants.get(tenant_id)

    async def by_name(self, name: str) -> Tenant | None:
        return next((t for t in self.s.tenants.values() if t.name == name), None)

    async def all(self) -> list[Tenant]:
        return list(self.s.tenants.values())


class FakeUsers(_Repo):
    async def add(self, user: User) -> None:
        self.s.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self.s.users.get(user_id)

    async def by_username(self, username: str) -> User | None:
        return next((u for u in self.s.users.values() if u.username.casefold() == username.casefold()), None)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.s.users[user_id] = replace(self.s.users[user_id], password_hash=password_hash)

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        self.s.users[user_id] = replace(self.s.users[user_id], disabled=disabled)

    async def set_totp(
        self, user_id: str, *, secret: bytes | None, pending: bytes | None, last_step: int
    ) -> None:
        user = self.s.users[user_id]
        self.s.users[user_id] = replace(
            user, totp_secret=secret, totp_pending=pending, totp_last_step=last_step
        )

    async def advance_totp_step(self, user_id: str, step: int) -> bool:
        user = self.s.users[user_id]
        if user.totp_last_step >= step:
            return False
        self.s.users[user_id] = replace(user, totp_last_step=step)
        return True

    async def replace_backup_codes(self, user_id: str, code_hashes: list[str]) -> None:  # type: ignore[override]
        for key in [k for k in self.s.backup_codes if k[0] == user_id]:
            del self.s.backup_codes[key]
        for digest in code_hashes:
            self.s.backup_codes[(user_id, digest)] = None

    async def use_backup_code(self, user_id: str, code_hash: str, now: datetime) -> bool:
        key = (user_id, code_hash)
        if key not in self.s.backup_codes or self.s.backup_codes[key] is not None:
            return False
        self.s.backup_codes[key] = now
        return True


class FakeMemberships(_Repo):
    async def add(self, membership: Membership) -> None:
        self.s.memberships[(membership.tenant_id, membership.user_id)] = membership

    async def get(self, tenant_id: str, user_id: str) -> Membership | None:
        return self.s.memberships.get((tenant_id, user_id))

    async def for_user(self, user_id: str) -> list[Membership]:
        return [m for m in self.s.memberships.values() if m.user_id == user_id]

    async def for_tenant(self, tenant_id: str) -> list[Membership]:
        return [m for m in self.s.memberships.values() if m.tenant_id == tenant_id]

    async def set_role(self, tenant_id: str, user_id: str, role: Role) -> None:
        key = (tenant_id, user_id)
        self.s.memberships[key] = replace(self.s.memberships[key], role=role)

    async def remove(self, tenant_id: str, user_id: str) -> None:
        self.s.memberships.pop((tenant_id, user_id), None)


class FakeApiKeys(_Repo):
    async def add(self, key: ApiKey) -> None:
        self.s.api_keys[key.id] = key

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        return next((k for k in self.s.api_keys.values() if k.prefix == prefix), None)

    async def get(self, tenant_id: str, key_id: str) -> ApiKey | None:
        key = self.s.api_keys.get(key_id)
        return key if key is not None and key.tenant_id == tenant_id else None

    async def for_tenant(self, tenant_id: str) -> list[ApiKey]:
        return [k for k in self.s.api_keys.values() if k.tenant_id == tenant_id]

    async def revoke(self, tenant_id: str, key_id: str, now: datetime) -> bool:
        key = await self.get(tenant_id, key_id)
        if key is None or key.revoked_at is not None:
            return False
        self.s.api_keys[key_id] = replace(key, revoked_at=now)
        return True

    async def revoke_created_by(self, tenant_id: str, created_by: str, now: datetime) -> int:
        count = 0
        for key_id, key in list(self.s.api_keys.items()):
            if key.tenant_id == tenant_id and key.created_by == created_by and key.revoked_at is None:
                self.s.api_keys[key_id] = replace(key, revoked_at=now)
                count += 1
        return count

    async def touch(self, tenant_id: str, key_id: str, now: datetime) -> None:
        key = await self.get(tenant_id, key_id)
        assert key is not None
        self.s.api_keys[key_id] = replace(key, last_used_at=now)


class FakeRefreshTokens(_Repo):
    async def add(self, token: RefreshToken) -> None:
        self.s.refresh_tokens[token.id] = token

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self.s.refresh_tokens.values() if t.token_hash == token_hash), None)

    async def mark_rotated(self, token_id: str, now: datetime) -> bool:
        token = self.s.refresh_tokens[token_id]
        if token.rotated_at is not None or token.revoked_at is not None:
            return False
        self.s.refresh_tokens[token_id] = replace(token, rotated_at=now)
        return True

    async def revoke_family(self, tenant_id: str, family_id: str, now: datetime) -> int:
        count = 0
        for token_id, token in list(self.s.refresh_tokens.items()):
            if token.tenant_id == tenant_id and token.family_id == family_id and token.revoked_at is None:
                self.s.refresh_tokens[token_id] = replace(token, revoked_at=now)
                count += 1
        return count

    async def revoke_for_user(self, tenant_id: str, user_id: str, now: datetime) -> int:
        count = 0
        for token_id, token in list(self.s.refresh_tokens.items()):
            if token.tenant_id == tenant_id and token.user_id == user_id and token.revoked_at is None:
                self.s.refresh_tokens[token_id] = replace(token, revoked_at=now)
                count += 1
        return count


class FakeRevokedTokens(_Repo):
    async def add(self, jti: str, tenant_id: str, expires_at: datetime, now: datetime | None = None) -> None:
        if now is not None:
            for old in [k for k, (t, exp) in self.s.revoked.items() if t == tenant_id and exp < now]:
                del self.s.revoked[old]
        self.s.revoked[jti] = (tenant_id, expires_at)

    async def is_revoked(self, jti: str) -> bool:
        return jti in self.s.revoked and self.s.revoked[jti][0] == self.uow.tenant_id


class FakeThrottle(_Repo):
    async def get(self, key: str) -> LockoutState:
        return self.s.throttle.get(key, LockoutState())

    async def record_failure(
        self, key: str, now: datetime, policy: LockoutPolicy, free: int | None
    ) -> LockoutState:
        state = self.s.throttle.get(key, LockoutState()).after_failure(now, policy, free)
        self.s.throttle[key] = state
        return state

    async def clear(self, key: str) -> None:
        self.s.throttle.pop(key, None)


class FakeSigningKeys(_Repo):
    async def add(self, key: SigningKey) -> None:
        self.s.signing_keys[key.kid] = key

    async def published(self, since: datetime) -> list[SigningKey]:
        keys = [k for k in self.s.signing_keys.values() if k.retired_at is None or k.retired_at > since]
        return sorted(keys, key=lambda k: k.created_at, reverse=True)

    async def retire_all_except(self, kid: str, now: datetime) -> None:
        for other, key in list(self.s.signing_keys.items()):
            if other != kid and key.retired_at is None:
                self.s.signing_keys[other] = replace(key, retired_at=now)


class FakeUnitOfWork:
    def __init__(self, store: Store, tenant_id: str | None) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.staged: Store | None = None
        self.base = store
        self.tenants = FakeTenants(self)
        self.users = FakeUsers(self)
        self.memberships = FakeMemberships(self)
        self.api_keys = FakeApiKeys(self)
        self.refresh_tokens = FakeRefreshTokens(self)
        self.revoked_tokens = FakeRevokedTokens(self)
        self.throttle = FakeThrottle(self)
        self.signing_keys = FakeSigningKeys(self)

    async def __aenter__(self) -> Self:
        self.base = copy.deepcopy(self.store)
        self.staged = copy.deepcopy(self.store)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.staged = None

    async def commit(self) -> None:
        """Apply this transaction's changes (not its stale reads) to the store, like a database."""
        assert self.staged is not None
        for name in Store.__dataclass_fields__:
            if name == "commits":
                continue
            base, staged, target = (
                getattr(self.base, name),
                getattr(self.staged, name),
                getattr(self.store, name),
            )
            for key, value in staged.items():
                if key not in base or base[key] != value:
                    target[key] = value
            for key in base:
                if key not in staged:
                    target.pop(key, None)
        self.store.commits += 1
        self.base = copy.deepcopy(self.staged)

    async def rollback(self) -> None:
        self.staged = copy.deepcopy(self.base)

    async def enter_tenant(self, tenant_id: str) -> None:
        assert self.tenant_id in (None, tenant_id)
        self.tenant_id = tenant_id


class FakeAuditLog:
    """Keeps each tenant's chain in a list, built with the real hashing rule."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.entries: dict[str, list[AuditEntry]] = {}

    async def record(self, record: AuditRecord) -> AuditEntry:
        chain = self.entries.setdefault(record.tenant_id, [])
        prev = chain[-1].hash if chain else GENESIS_HASH
        entry = chain_entry(record, seq=len(chain) + 1, occurred_at=self.clock.now(), prev_hash=prev)
        chain.append(entry)
        return entry

    def actions(self, tenant_id: str) -> list[tuple[str, str]]:
        return [(e.action, e.outcome) for e in self.entries.get(tenant_id, [])]

    async def page(self, query: AuditQuery) -> AuditPage:
        chain = [
            e
            for e in reversed(self.entries.get(query.tenant_id, []))
            if e.action == (query.action or e.action)
        ]
        return AuditPage(tuple(chain[: query.limit]), None)

    async def verify(self, tenant_id: str) -> tuple[int, ChainBreak | None]:
        chain = self.entries.get(tenant_id, [])
        return len(chain), verify_chain(tenant_id, chain)

    async def chains(self) -> list[str]:
        return sorted(self.entries)


class FakeRateLimiter:
    """Counts hits per (limit, identity) in a fixed window that never moves (the tests move nothing)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, ...], int] = {}

    async def hit(self, limit: str, *identity: str) -> RateDecision:
        amount = int(limit.split("/")[0])
        key = (limit, *identity)
        used = self.counts.get(key, 0)
        allowed = used < amount
        if allowed:
            self.counts[key] = used + 1
        return RateDecision(allowed, amount, max(0, amount - self.counts.get(key, 0)), 60)

    async def aclose(self) -> None:
        return None
