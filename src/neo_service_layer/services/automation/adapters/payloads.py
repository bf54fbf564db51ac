"""The automation service's run payloads in ``automation_runs``, written in the pipeline's transactions
(``kernel.chain.adapters.payloads``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from neo_service_layer.services.automation.adapters.tables import automation_runs
from neo_service_layer.services.automation.rules.runs import RunAsked, RunSent

T = automation_runs

_SENT = (
    update(T)
    .where(T.c.contract == bindparam("b_contract"), T.c.request_id == bindparam("b_id"))
    .values(last_error=None)
)


class RunPayloads:
    """Implements ``RequestPayloads[RunAsked, RunSent]``."""

    async def insert_asked(
        self, conn: AsyncConnection, contract: str, asked: Sequence[tuple[int, RunAsked]]
    ) -> None:
        await conn.execute(
            insert(T),
            [
                {
                    "contract": contract,
                    "request_id": rid,
                    "upkeep_id": a.upkeep_id,
                    "occurrence": a.occurrence,
                    "due_block": a.due_block,
                    "data": a.data,
                }
                for rid, a in asked
            ],
        )

    async def record_answers(
        self, conn: AsyncConnection, contract: str, answers: Sequence[tuple[int, RunSent]]
    ) -> None:
        """A run written to the outbox: the dry-run error of an earlier attempt is history."""
        await conn.execute(_SENT, [{"b_contract": contract, "b_id": rid} for rid, _ in answers])

    async def read(
        self, conn: AsyncConnection, contract: str, request_ids: Sequence[int]
    ) -> dict[int, tuple[RunAsked, RunSent | None]]:
        if not request_ids:
            return {}
        rows = await conn.execute(select(T).where(T.c.contract == contract, T.c.request_id.in_(request_ids)))
        return {
            int(r.request_id): (
                RunAsked(int(r.upkeep_id), int(r.occurrence), int(r.due_block), bytes(r.data)),
                None,
            )
            for r in rows
        }
