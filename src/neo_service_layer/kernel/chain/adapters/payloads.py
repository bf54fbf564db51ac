"""How a service keeps its requests' payloads in its own table, inside the pipeline's transactions.

``chain_requests`` knows only the pipeline's facts (status, blocks, lease, outbox link). What a request
asked (``Q``) and what it was answered (``A``) go to a table of the service, written by the service's
``RequestPayloads`` on the connection the request store has open: a new request and its question are
one transaction, and so are an outbox transaction and the answers it carries. The service hands its
payloads to ``SqlRequestStore`` when it builds its watcher and fulfiller; the kernel imports no service.

A payload row is keyed by the request's contract and id (the service is implied by the table). There is
no foreign key to ``chain_requests``: SQLite rebuilds a table to alter it (``DROP`` + rename), which with
foreign keys on would cascade to, or be refused by, every payload table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection


class RequestPayloads[Q, A](Protocol):
    async def insert_asked(
        self, conn: AsyncConnection, contract: str, asked: Sequence[tuple[int, Q]]
    ) -> None:
        """Store what new requests (request id, question) asked; called once per request."""
        ...

    async def record_answers(
        self, conn: AsyncConnection, contract: str, answers: Sequence[tuple[int, A]]
    ) -> None:
        """Store the answers (request id, answer) just written to the outbox, replacing earlier ones."""
        ...

    async def read(
        self, conn: AsyncConnection, contract: str, request_ids: Sequence[int]
    ) -> Mapping[int, tuple[Q, A | None]]:
        """Question and latest answer (``None`` before the first) of each request that has a row."""
        ...
