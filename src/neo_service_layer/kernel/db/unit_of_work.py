"""Async unit of work over one SQLAlchemy connection and transaction.

Area-specific units of work subclass :class:`SqlUnitOfWork` and expose their repositories, built on
``self.connection``. On PostgreSQL the tenant of the caller is set per transaction
(``SET LOCAL app.tenant_id``) so that row-level security policies apply as a second wall.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from neo_service_layer.kernel.observability.tracing import get_tracer

_SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")


class SqlUnitOfWork:
    def __init__(self, engine: AsyncEngine, tenant_id: str | None = None) -> None:
        self._engine = engine
        self.tenant_id = tenant_id
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._connection

    @property
    def is_postgres(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def __aenter__(self) -> Self:
        self._span = get_tracer().start_span(
            "db.transaction", kind=SpanKind.CLIENT, attributes={"db.system": self._engine.dialect.name}
        )
        self._span_token = otel_context.attach(trace.set_span_in_context(self._span))
        self._connection = await self._engine.connect()
        self._transaction = await self._connection.begin()
        if self.is_postgres:
            await self._connection.execute(_SET_TENANT, {"tenant": self.tenant_id or ""})
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # closing rolls back a transaction that was not committed, and then the pool skips its own
            # reset-on-return rollback (an explicit rollback first would cost a second one)
            if self._connection is not None:
                await self._connection.close()
        finally:
            self._connection = None
            self._transaction = None
            if exc is not None:
                self._span.record_exception(exc)
                self._span.set_status(trace.StatusCode.ERROR)
            otel_context.detach(self._span_token)
            self._span.end()

    async def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("unit of work used outside `async with`")
        await self._transaction.commit()

    async def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            await self._transaction.rollback()
