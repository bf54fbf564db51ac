"""The users table and its backup codes: accounts, password hashes, TOTP state, single-use codes.

User names are unique case-insensitively (``username_key`` is the casefolded name).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from neo_service_layer.kernel.db.timestamps import utc_required
from neo_service_layer.kernel.identity.adapters.repositories.base import SqlRepository
from neo_service_layer.kernel.identity.adapters.tables import user_backup_codes, users
from neo_service_layer.kernel.identity.rules.accounts import User
from neo_service_layer.kernel.identity.rules.errors import AlreadyExists


class SqlUsers(SqlRepository):
    async def add(self, user: User) -> None:
        """Insert ``user``; ``AlreadyExists`` when another request took the username meanwhile."""
        try:
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
        except IntegrityError as exc:
            raise AlreadyExists(f"a user named {user.username!r} exists already") from exc

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

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        await self._conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))

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
