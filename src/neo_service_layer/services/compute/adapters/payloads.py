"""The compute service's request payloads in ``compute_requests``, written in the pipeline's transactions
(``kernel.chain.adapters.payloads``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.services.compute.adapters.tables import compute_requests
from neo_service_layer.services.compute.rules import ComputeParams, ComputeResult

T = compute_requests

_ANSWER = (
    update(T)
    .where(T.c.contract == bindparam("b_contract"), T.c.request_id == bindparam("b_id"))
    .values(
        result_code=bindparam("b_code"),
        result=bindparam("b_result"),
        timestamp_ms=bindparam("b_time"),
        function_hash=bindparam("b_hash"),
        detail=bindparam("b_detail"),
    )
)


class ComputePayloads:
    """Implements ``RequestPayloads[ComputeParams, ComputeResult]``."""

    async def insert_asked(
        self, conn: AsyncConnection, contract: str, asked: Sequence[tuple[int, ComputeParams]]
    ) -> None:
        await conn.execute(
            insert(T),
            [
                {"contract": contract, "request_id": rid, "function_id": p.function_id, "args": p.args}
                for rid, p in asked
            ],
        )

    async def record_answers(
        self, conn: AsyncConnection, contract: str, answers: Sequence[tuple[int, ComputeResult]]
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
                    "b_hash": r.function_hash,
                    "b_detail": r.detail,
                }
                for rid, r in answers
            ],
        )

    async def read(
        self, conn: AsyncConnection, contract: str, request_ids: Sequence[int]
    ) -> dict[int, tuple[ComputeParams, ComputeResult | None]]:
        if not request_ids:
            return {}
        rows = await conn.execute(select(T).where(T.c.contract == contract, T.c.request_id.in_(request_ids)))
        return {int(r.request_id): (ComputeParams(r.function_id, bytes(r.args)), _result(r)) for r in rows}


def _result(row: Any) -> ComputeResult | None:
    if row.result_code is None or row.result is None or row.timestamp_ms is None or row.function_hash is None:
        return None
    return ComputeResult(
        int(row.result_code),
        bytes(row.result),
        int(row.timestamp_ms),
        bytes(row.function_hash),
        row.detail or "",
    )
