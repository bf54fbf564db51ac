"""The oracle service's request payloads in ``oracle_requests``, written in the pipeline's transactions
(``kernel.chain.adapters.payloads``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.services.oracle.adapters.tables import oracle_requests
from neo_service_layer.services.oracle.rules import OracleParams, OracleResult

T = oracle_requests

_ANSWER = (
    update(T)
    .where(T.c.contract == bindparam("b_contract"), T.c.request_id == bindparam("b_id"))
    .values(result_code=bindparam("b_code"), result=bindparam("b_result"), timestamp_ms=bindparam("b_time"))
)


class OraclePayloads:
    """Implements ``RequestPayloads[OracleParams, OracleResult]``."""

    async def insert_asked(
        self, conn: AsyncConnection, contract: str, asked: Sequence[tuple[int, OracleParams]]
    ) -> None:
        await conn.execute(
            insert(T),
            [{"contract": contract, "request_id": rid, "url": p.url, "filter": p.filter} for rid, p in asked],
        )

    async def record_answers(
        self, conn: AsyncConnection, contract: str, answers: Sequence[tuple[int, OracleResult]]
    ) -> None:
        await conn.execute(
            _ANSWER,
            [
                {
                    "b_contract": contract,
                    "b_id": rid,
                    "b_code": r.code,
                    "b_result": r.result,
                    "b_time": r.timestamp_ms,
                }
                for rid, r in answers
            ],
        )

    async def read(
        self, conn: AsyncConnection, contract: str, request_ids: Sequence[int]
    ) -> dict[int, tuple[OracleParams, OracleResult | None]]:
        if not request_ids:
            return {}
        rows = await conn.execute(select(T).where(T.c.contract == contract, T.c.request_id.in_(request_ids)))
        return {int(r.request_id): (OracleParams(r.url, r.filter), _result(r)) for r in rows}


def _result(row: Any) -> OracleResult | None:
    if row.result_code is None or row.result is None or row.timestamp_ms is None:
        return None
    return OracleResult(int(row.result_code), bytes(row.result), int(row.timestamp_ms))
