"""The randomness service's request payloads in ``randomness_requests``, written in the pipeline's
transactions (``kernel.chain.adapters.payloads``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.services.randomness.adapters.tables import randomness_requests
from neo_service_layer.services.randomness.rules import RandomnessParams, RandomnessResult

T = randomness_requests

_ANSWER = (
    update(T)
    .where(T.c.contract == bindparam("b_contract"), T.c.request_id == bindparam("b_id"))
    .values(output=bindparam("b_output"), proof=bindparam("b_proof"))
)


class RandomnessPayloads:
    """Implements ``RequestPayloads[RandomnessParams, RandomnessResult]``."""

    async def insert_asked(
        self, conn: AsyncConnection, contract: str, asked: Sequence[tuple[int, RandomnessParams]]
    ) -> None:
        await conn.execute(
            insert(T),
            [
                {"contract": contract, "request_id": rid, "num_words": p.num_words, "seed": p.seed}
                for rid, p in asked
            ],
        )

    async def record_answers(
        self, conn: AsyncConnection, contract: str, answers: Sequence[tuple[int, RandomnessResult]]
    ) -> None:
        await conn.execute(
            _ANSWER,
            [
                {"b_contract": contract, "b_id": rid, "b_output": r.output, "b_proof": r.proof}
                for rid, r in answers
            ],
        )

    async def read(
        self, conn: AsyncConnection, contract: str, request_ids: Sequence[int]
    ) -> dict[int, tuple[RandomnessParams, RandomnessResult | None]]:
        if not request_ids:
            return {}
        rows = await conn.execute(select(T).where(T.c.contract == contract, T.c.request_id.in_(request_ids)))
        return {
            int(r.request_id): (
                RandomnessParams(int(r.num_words), bytes(r.seed)),
                RandomnessResult(bytes(r.output), bytes(r.proof))
                if r.output is not None and r.proof is not None
                else None,
            )
            for r in rows
        }
