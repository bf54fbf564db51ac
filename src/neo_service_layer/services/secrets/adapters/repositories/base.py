"""What every secrets repository shares: the connection of the unit of work it belongs to."""

from __future__ import annotations

from typing import Any

from neo_service_layer.kernel.db.unit_of_work import SqlUnitOfWork


class SqlRepository:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    @property
    def _conn(self) -> Any:
        return self._uow.connection
