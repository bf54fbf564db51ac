"""Session tokens: refresh tokens (rotated, revoked by family) and the revoked access tokens (sign-out).

``by_hash`` finds a refresh token before its tenant is known: it sets ``app.refresh_token_hash`` for the
one RLS policy that allows that look-up. A revoked access token is kept only until it would have expired.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update

from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.identity.adapters.repositories.base import SqlRepository
from neo_service_layer.kernel.identity.adapters.tables import refresh_tokens, revoked_tokens
from neo_service_layer.kernel.identity.rules.tokens import RefreshToken


class SqlRefreshTokens(SqlRepository):
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

    async def revoke_for_user(self, tenant_id: str, user_id: str, now: datetime) -> int:
        result = await self._conn.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.tenant_id == tenant_id,
                refresh_tokens.c.user_id == user_id,
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount)


class SqlRevokedTokens(SqlRepository):
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
