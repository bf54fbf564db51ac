"""Keeping a worker's claims while their work runs: a batch that takes longer than its lease keeps it.

A fulfiller whose work (fetches, an enclave call) can outlast the lease wraps it in ``LeaseKeeper``: every
``every`` seconds (a third of the lease by default) the claims still in progress are renewed to a full
lease (``RequestStore.renew``), so no other worker claims and redoes them meanwhile, and the outbox write
at the end finds its lease. A claim that another worker took anyway (this worker stalled longer than a
lease) is not taken back: it is dropped from the renewals and listed in ``lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from neo_service_layer.kernel.chain.ports.request_store import RequestStore
from neo_service_layer.kernel.chain.rules import lease_until
from neo_service_layer.kernel.clock import Clock


class LeaseKeeper:
    """Renews ``request_ids`` (minus those ``forget`` removes) in the background while entered."""

    def __init__(
        self,
        store: RequestStore[Any, Any],
        clock: Clock,
        *,
        service: str,
        contract: str,
        worker: str,
        lease_seconds: float,
        request_ids: Iterable[int],
        every: float | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._key = (service, contract, worker)
        self._lease = lease_seconds
        self._every = every if every is not None else lease_seconds / 3
        self._ids = set(request_ids)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        #: claims a renewal found taken by another worker
        self.lost: set[int] = set()
        #: renewals made, and the last error of one that failed (its type name: no values)
        self.renewals = 0
        self.last_error: str | None = None

    def forget(self, request_ids: Iterable[int]) -> None:
        """These claims are finished (written, failed, released or left to their lease): renew no more."""
        self._ids.difference_update(request_ids)

    async def renew_now(self, request_ids: Iterable[int]) -> set[int]:
        """Renew ``request_ids`` at once; return those this worker holds (the others are ``lost``)."""
        wanted = set(request_ids)
        if not wanted:
            return set()
        service, contract, worker = self._key
        until = lease_until(self._clock.now(), self._lease)
        held = await self._store.renew(service, contract, worker, sorted(wanted), until)
        self.renewals += 1
        self.lost |= wanted - held
        self._ids -= wanted - held
        return held

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # a timeout: time to renew; the event: stopped
                await asyncio.wait_for(self._stop.wait(), self._every)
                return
            try:
                await self.renew_now(self._ids)
            except Exception as exc:  # the database is away: the write re-checks each lease anyway
                self.last_error = type(exc).__name__

    async def __aenter__(self) -> LeaseKeeper:
        self._task = asyncio.create_task(self._run(), name="lease-keeper")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._stop.set()
            await self._task
