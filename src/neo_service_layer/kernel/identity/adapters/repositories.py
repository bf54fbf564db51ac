"""Identity repositories (SQLAlchemy Core on the unit of work's connection).

Every query on a tenant table filters by tenant explicitly; on PostgreSQL row-level security enforces
the same filter a second time. The three look-ups that precede knowing the tenant (a user's own
memberships, an API key by prefix, a refresh token by hash) first set a transaction-local setting that
one narrow SELECT policy matches on, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.identity.adapters.tables import (
    api_keys,
    login_throttle,
    memberships,
    refresh_tokens,
    revoked_tokens,
    signing_keys,
    tenants,
    user_backup_codes,
    users,
)
from neo_service_layer.kernel.identity.rules.identity import (
    ApiKey,
    Membership,
    RefreshToken,
    Role,
    SigningKey,
    Tenant,
    User,
)
from neo_service_layer.kernel.identity.rules.passwords import LockoutPolicy, LockoutState

if TYPE_CHECKING:
    from neo_service_layer.kernel.identity.adapters.unit_of_work import SqlIdentityUnitOfWork


class _Repository:
    def __init__(self, uow: SqlIdentityUnitOfWork) -> None:
        self._uow = uow

    @property
    def _conn(self) -> Any:
        return self._uow.connection

    def _insert_ignore(self, table: Any, **values: Any) -> Any:
        dialect = postgresql if self._uow.is_postgres else sqlite
        return dialect.insert(table).values(**values).on_conflict_do_nothing()


class SqlTenants(_Repository):
    async def add(self, tenant: Tenant) -> None:
        await self._conn.execute(
            insert(tenants).values(
                id=tenant.id,
                name=tenant.name,
                plan=tenant.plan,
                active=tenant.active,
                created_at=tenant.created_at,
            )
        )

    async def get(self, tenant_id: str) -> Tenant | None:
        row = (await self._conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
        return _tenant(row) if row else None

    async def by_name(self, name: str) -> Tenant | None:
        row = (await self._conn.execute(select(tenants).where(tenants.c.name == name))).first()
        return _tenant(row) if row else None

    async def all(self) -> list[Tenant]:
        rows = (await self._conn.execute(select(tenants).order_by(tenants.c.created_at, tenants.c.id))).all()
        return [_tenant(row) for row in rows]


def _tenant(row: Row[Any]) -> Tenant:
    return Tenant(
        id=row.id, name=row.name, plan=row.plan, created_at=utc_required(row.created_at), active=row.active
    )


class SqlUsers(_Repository):
    async def add(self, user: User) -> None:
        await self._conn.execute(
            insert(users).values(
                id=user.id,
                username=user.username,
                username_key=user.username.casefold(),
                password_hash=user.password_hash,
                is_superadmin=user.is_superadmin,
                disabled=user.disabled,
                created_at=user.created_at,
                totp_secret=user.totp_secret,
                totp_pending=user.totp_pending,
                totp_last_step=user.totp_last_step,
            )
        )

    async def get(self, user_id: str) -> User | None:
        row = (await self._conn.execute(select(users).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    async def by_username(self, username: str) -> User | None:
        query = select(users).where(users.c.username_key == username.casefold())
        row = (await self._conn.execute(query)).first()
        return _user(row) if row else None

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._conn.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )

    async def set_totp(
        self, user_id: str, *, secret: bytes | None, pending: bytes | None, last_step: int
    ) -> None:
        await self._conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(totp_secret=secret, totp_pending=pending, totp_last_step=last_step)
        )

    async def advance_totp_step(self, user_id: str, step: int) -> bool:
        result = await self._conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.totp_last_step < step)
            .values(totp_last_step=step)
        )
        return bool(result.rowcount == 1)

    async def replace_backup_codes(self, user_id: str, code_hashes: Sequence[str]) -> None:
        await self._conn.execute(delete(user_backup_codes).where(user_backup_codes.c.user_id == user_id))
        if code_hashes:
            await self._conn.execute(
                insert(user_backup_codes), [{"user_id": user_id, "code_hash": h} for h in code_hashes]
            )

    async def use_backup_code(self, user_id: str, code_hash: str, now: datetime) -> bool:
        result = await self._conn.execute(
            update(user_backup_codes)
            .where(
                user_backup_codes.c.user_id == user_id,
                user_backup_codes.c.code_hash == code_hash,
                user_backup_codes.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return bool(result.rowcount == 1)


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        created_at=utc_required(row.created_at),
        is_superadmin=row.is_superadmin,
        disabled=row.disabled,
        totp_secret=row.totp_secret,
        totp_pending=row.totp_pending,
        totp_last_step=row.totp_last_step,
    )


class SqlMemberships(_Repository):
    def _query(self) -> Any:
        return select(memberships, users.c.username).join(users, users.c.id == memberships.c.user_id)

    async def add(self, membership: Membership) -> None:
        await self._conn.execute(
            insert(memberships).values(
                tenant_id=membership.tenant_id,
                user_id=membership.user_id,
                role=membership.role.value,
                created_at=membership.created_at,
            )
        )

    async def get(self, tenant_id: str, user_id: str) -> Membership | None:
        query = self._query().where(memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id)
        row = (await self._conn.execute(query)).first()
        return _membership(row) if row else None

    async def for_user(self, user_id: str) -> list[Membership]:
        await self._uow.set_local("app.user_id", user_id)
        rows = (await self._conn.execute(self._query().where(memberships.c.user_id == user_id))).all()
        return [_membership(row) for row in rows]

    async def for_tenant(self, tenant_id: str) -> list[Membership]:
        query = self._query().where(memberships.c.tenant_id == tenant_id).order_by(memberships.c.created_at)
        return [_membership(row) for row in (await self._conn.execute(query)).all()]

    async def set_role(self, tenant_id: str, user_id: str, role: Role) -> None:
        await self._conn.execute(
            update(memberships)
            .where(memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id)
            .values(role=role.value)
        )

    async def remove(self, tenant_id: str, user_id: str) -> None:
        await self._conn.execute(
            delete(memberships).where(memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id)
        )


def _membership(row: Row[Any]) -> Membership:
    return Membership(
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        role=Role(row.role),
        created_at=utc_required(row.created_at),
        username=row.username,
    )


#: built once (this lookup authenticates every request that presents an API key)
_KEY_BY_PREFIX = (
    select(api_keys, tenants.c.plan)
    .join(tenants, tenants.c.id == api_keys.c.tenant_id)
    .where(api_keys.c.prefix == bindparam("prefix"), tenants.c.active.is_(True))
)


class SqlApiKeys(_Repository):
    async def add(self, key: ApiKey) -> None:
        await self._conn.execute(
            insert(api_keys).values(
                id=key.id,
                tenant_id=key.tenant_id,
                prefix=key.prefix,
                secret_hash=key.secret_hash,
                name=key.name,
                scopes=" ".join(sorted(key.scopes)),
                created_by=key.created_by,
                created_at=key.created_at,
                expires_at=key.expires_at,
            )
        )

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        await self._uow.set_local("app.api_key_prefix", prefix)
        row = (await self._conn.execute(_KEY_BY_PREFIX, {"prefix": prefix})).first()
        return _api_key(row, row.plan) if row else None

    async def get(self, tenant_id: str, key_id: str) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
        row = (await self._conn.execute(query)).first()
        return _api_key(row) if row else None

    async def for_tenant(self, tenant_id: str) -> list[ApiKey]:
        query = select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.created_at)
        return [_api_key(row) for row in (await self._conn.execute(query)).all()]

    async def revoke(self, tenant_id: str, key_id: str, now: datetime) -> bool:
        result = await self._conn.execute(
            update(api_keys)
            .where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
            )
            .values(revoked_at=now)
        )
        return bool(result.rowcount == 1)

    async def touch(self, tenant_id: str, key_id: str, now: datetime) -> None:
        await self._conn.execute(
            update(api_keys)
            .where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
            .values(last_used_at=now)
        )


def _api_key(row: Row[Any], plan: str = "default") -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant_id=row.tenant_id,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        name=row.name,
        scopes=frozenset(row.scopes.split()),
        created_by=row.created_by,
        created_at=utc_required(row.created_at),
        expires_at=utc(row.expires_at),
        last_used_at=utc(row.last_used_at),
        revoked_at=utc(row.revoked_at),
        plan=plan,
    )


class SqlRefreshTokens(_Repository):
    async def add(self, token: RefreshToken) -> None:
        await self._conn.execute(
            insert(refresh_tokens).values(
                id=token.id,
                family_id=token.family_id,
                tenant_id=token.tenant_id,
                user_id=token.user_id,
                token_hash=token.token_hash,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
            )
        )

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        await self._uow.set_local("app.refresh_token_hash", token_hash)
        row = (
            await self._conn.execute(select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash))
        ).first()
        if row is None:
            return None
        return RefreshToken(
            id=row.id,
            family_id=row.family_id,
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            token_hash=row.token_hash,
            issued_at=utc_required(row.issued_at),
            expires_at=utc_required(row.expires_at),
            rotated_at=utc(row.rotated_at),
            revoked_at=utc(row.revoked_at),
        )

    async def mark_rotated(self, token_id: str, now: datetime) -> bool:
        result = await self._conn.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.id == token_id,
                refresh_tokens.c.rotated_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(rotated_at=now)
        )
        return bool(result.rowcount == 1)

    async def revoke_family(self, tenant_id: str, family_id: str, now: datetime) -> int:
        result = await self._conn.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.tenant_id == tenant_id,
                refresh_tokens.c.family_id == family_id,
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount)


class SqlRevokedTokens(_Repository):
    async def add(self, jti: str, tenant_id: str, expires_at: datetime, now: datetime | None = None) -> None:
        if now is not None:  # entries for tokens that expired anyway are no longer needed
            await self._conn.execute(
                delete(revoked_tokens).where(
                    revoked_tokens.c.tenant_id == tenant_id, revoked_tokens.c.expires_at < now
                )
            )
        await self._conn.execute(
            self._insert_ignore(revoked_tokens, jti=jti, tenant_id=tenant_id, expires_at=expires_at)
        )

    async def is_revoked(self, jti: str) -> bool:
        query = select(revoked_tokens.c.jti).where(
            revoked_tokens.c.jti == jti, revoked_tokens.c.tenant_id == self._uow.tenant_id
        )
        return (await self._conn.execute(query)).first() is not None


class SqlLoginThrottle(_Repository):
    async def get(self, key: str) -> LockoutState:
        row = (await self._conn.execute(select(login_throttle).where(login_throttle.c.key == key))).first()
        if row is None:
            return LockoutState()
        return LockoutState(row.failures, utc(row.first_failure_at), utc(row.locked_until))

    async def record_failure(self, key: str, now: datetime, policy: LockoutPolicy) -> LockoutState:
        await self._conn.execute(self._insert_ignore(login_throttle, key=key, failures=0))
        row = (
            await self._conn.execute(
                select(login_throttle).where(login_throttle.c.key == key).with_for_update()
            )
        ).one()
        state = LockoutState(row.failures, utc(row.first_failure_at), utc(row.locked_until))
        state = state.after_failure(now, policy)
        await self._conn.execute(
            update(login_throttle)
            .where(login_throttle.c.key == key)
            .values(
                failures=state.failures,
                first_failure_at=state.first_failure_at,
                locked_until=state.locked_until,
            )
        )
        return state

    async def clear(self, key: str) -> None:
        await self._conn.execute(delete(login_throttle).where(login_throttle.c.key == key))


class SqlSigningKeys(_Repository):
    async def add(self, key: SigningKey) -> None:
        await self._conn.execute(
            insert(signing_keys).values(
                kid=key.kid,
                public_jwk=json.dumps(dict(key.public_jwk), sort_keys=True),
                private_key_sealed=key.private_pem_sealed,
                created_at=key.created_at,
                retired_at=key.retired_at,
            )
        )

    async def published(self, since: datetime) -> list[SigningKey]:
        query = (
            select(signing_keys)
            .where((signing_keys.c.retired_at.is_(None)) | (signing_keys.c.retired_at > since))
            .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
        )
        return [
            SigningKey(
                kid=row.kid,
                public_jwk=json.loads(row.public_jwk),
                private_pem_sealed=row.private_key_sealed,
                created_at=utc_required(row.created_at),
                retired_at=utc(row.retired_at),
            )
            for row in (await self._conn.execute(query)).all()
        ]

    async def retire_all_except(self, kid: str, now: datetime) -> None:
        await self._conn.execute(
            update(signing_keys)
            .where(and_(signing_keys.c.kid != kid, signing_keys.c.retired_at.is_(None)))
            .values(retired_at=now)
        )
