"""Database readiness: a round trip and the schema revision, within a deadline."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from neo_service_layer.kernel.health.rules import ComponentStatus


class DatabaseCheck:
    def __init__(self, engine: AsyncEngine, timeout: float = 2.0) -> None:
        self._engine = engine
        self._timeout = timeout

    async def __call__(self) -> ComponentStatus:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except TimeoutError:
            return ComponentStatus("database", ok=False, detail=f"no answer within {self._timeout:g} s")
        except Exception as exc:  # any driver error means "not ready"; the type is enough detail
            return ComponentStatus("database", ok=False, detail=f"unreachable ({type(exc).__name__})")
        return ComponentStatus("database", ok=True, info={"dialect": self._engine.dialect.name})
