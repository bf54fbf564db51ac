"""What every identity repository shares: the unit of work's connection and an insert that ignores
a row already there (PostgreSQL and SQLite spell it differently).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from neo_service_layer.kernel.identity.adapters.unit_of_work import SqlIdentityUnitOfWork


class SqlRepository:
    def __init__(self, uow: SqlIdentityUnitOfWork) -> None:
        self._uow = uow

    @property
    def _conn(self) -> Any:
        return self._uow.connection

    def _insert_ignore(self, table: Any, **values: Any) -> Any:
        dialect = postgresql if self._uow.is_postgres else sqlite
        return dialect.insert(table).values(**values).on_conflict_do_nothing()
