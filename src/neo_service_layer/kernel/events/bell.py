"""The process's bell for new tenant events: rung when events committed (by the PostgreSQL listener,
``kernel.events.listener``, with the tenant they belong to), heard by the worker's jobs and the API's
event streams.

A job registers a :meth:`EventBell.waker`, an event every ring sets and the job clears as it runs
(``PeriodicJob.wake``). A stream takes :meth:`EventBell.next_ring` for its tenant *before* it reads
the outbox and waits on it after: a commit between the read and the wait still ends the wait, and
another tenant's events do not wake it. Nobody depends on the bell for correctness: all of them also
poll.
"""

from __future__ import annotations

import asyncio


class EventBell:
    def __init__(self) -> None:
        self._wakers: list[asyncio.Event] = []
        self._next: dict[str, asyncio.Event] = {}

    def ring(self, tenant_id: str | None = None) -> None:
        """New events of ``tenant_id`` (``None``: of any tenant, as after a reconnection)."""
        for waker in self._wakers:
            waker.set()
        if tenant_id is None:
            rung, self._next = self._next, {}
            for event in rung.values():
                event.set()
        elif tenant_id in self._next:
            self._next.pop(tenant_id).set()

    def waker(self) -> asyncio.Event:
        """An event set at every ring from now on (a job's ``wake``: the job clears it itself)."""
        waker = asyncio.Event()
        self._wakers.append(waker)
        return waker

    def next_ring(self, tenant_id: str) -> asyncio.Event:
        """An event set at the next ring for ``tenant_id`` (one shot: take a new one after it)."""
        return self._next.setdefault(tenant_id, asyncio.Event())
