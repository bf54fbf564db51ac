"""The native Oracle node's request payloads in ``native_oracle_requests``, written in the pipeline's
transactions (``kernel.chain.adapters.payloads``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.services.native_oracle.adapters.tables import native_oracle_requests
from neo_service_layer.services.native_oracle.rules import NativeParams, NativeResult, NeoResponseCode

T = native_oracle_requests

_ANSWER = (
    update(T)
    .where(T.c.contract == bindparam("b_contract"), T.c.request_id == bindparam("b_id"))
    .values(code=bindparam("b_code"), result=bindparam("b_result"))
)


class NativeOraclePayloads:
    """Implements ``RequestPayloads[NativeParams, NativeResult]``."""

    async def insert_asked(
        self, conn: AsyncConnection, contract: str, asked: Sequence[tuple[int, NativeParams]]
    ) -> None:
        await conn.execute(
            insert(T),
            [{"contract": contract, "request_id": rid, "url": p.url, "filter": p.filter} for rid, p in asked],
        )

    async def record_answers(
        self, conn: AsyncConnection, contract: str, answers: Sequence[tuple[int, NativeResult]]
    ) -> None:
        await conn.execute(
            _ANSWER,
            [
                {"b_contract": contract, "b_id": rid, "b_code": int(r.code), "b_result": r.result}
                for rid, r in answers
            ],
        )

    async def read(
        self, conn: AsyncConnection, contract: str, request_ids: Sequence[int]
    ) -> dict[int, tuple[NativeParams, NativeResult | None]]:
        if not request_ids:
            return {}
        rows = await conn.execute(select(T).where(T.c.contract == contract, T.c.request_id.in_(request_ids)))
        return {
            int(r.request_id): (
                NativeParams(r.url, r.filter),
                NativeResult(NeoResponseCode(r.code), bytes(r.result))
                if r.code is not None and r.result is not None
                else None,
            )
            for r in rows
        }
