"""The sign-in throttle: failure counts per (account, client), per account and per client address.

A failure is counted under a row lock, so concurrent wrong passwords cannot slip past the limit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from neo_service_layer.kernel.db.timestamps import utc
from neo_service_layer.kernel.identity.adapters.repositories.base import SqlRepository
from neo_service_layer.kernel.identity.adapters.tables import login_throttle
from neo_service_layer.kernel.identity.rules.passwords import LockoutPolicy, LockoutState


class SqlLoginThrottle(SqlRepository):
    async def get(self, key: str) -> LockoutState:
        row = (await self._conn.execute(select(login_throttle).where(login_throttle.c.key == key))).first()
        if row is None:
            return LockoutState()
        return LockoutState(row.failures, utc(row.first_failure_at), utc(row.locked_until))

    async def record_failure(
        self, key: str, now: datetime, policy: LockoutPolicy, free: int | None
    ) -> LockoutState:
        await self._conn.execute(self._insert_ignore(login_throttle, key=key, failures=0))
        row = (
            await self._conn.execute(
                select(login_throttle).where(login_throttle.c.key == key).with_for_update()
            )
        ).one()
        state = LockoutState(row.failures, utc(row.first_failure_at), utc(row.locked_until))
        state = state.after_failure(now, policy, free)
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
