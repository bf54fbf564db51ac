"""The worker's side on SQL: the relay's fan-out (implements ``ports.RelayStore``) and the claims of
deliveries under a lease (implements ``ports.DeliveryStore``).

Fan-out: per tenant, in one transaction holding the tenant's cursor row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite has one writer), the events after the cursor become delivery rows for the matching
webhook and e-mail subscriptions with ``INSERT ... ON CONFLICT DO NOTHING`` on
``(subscription_id, event_id)``: a pair gets one row whatever the number of relays or their crashes;
then the cursor moves.

Claims: a subscription's *head* is its pending delivery with the lowest event id; only a head that is
due and not leased is claimed (one conditional ``UPDATE`` that checks it is still the head: two
workers never both win), so a later event is never sent while an earlier one of the same subscription
is pending or retrying. After a delivered event the same worker claims the next head the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Select, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neo_service_layer.kernel.chain.adapters.sql_support import insert_ignore, insert_ignoring
from neo_service_layer.kernel.events.adapters import tenant_event_heads
from neo_service_layer.services.subscriptions.adapters.store import D, E, F, S, W, X, scope, stored_event
from neo_service_layer.services.subscriptions.adapters.tables import subscription_relay_cursors
from neo_service_layer.services.subscriptions.ports import (
    Claim,
    DeliveryStatus,
    Kind,
    Matcher,
    State,
    Target,
)
from neo_service_layer.services.subscriptions.use_cases.request_source import filter_of

C, H = subscription_relay_cursors, tenant_event_heads
D2 = D.alias("head")
PENDING = DeliveryStatus.PENDING.value
#: the ``worker`` of a head whose message is on the bus (``use_cases.dispatch``): not being sent yet
DISPATCHED = "bus:dispatched"


def source_filter(row: Any) -> str | None:
    """A subscription row's chain filter or request filter, as the matcher takes it."""
    if row.filter is not None:
        return str(row.filter)
    return filter_of(row.consumer, row.service) if row.consumer is not None else None


#: the channels the worker sends (a stream is read by the tenant: no delivery rows)
SENT_KINDS = (Kind.WEBHOOK.value, Kind.EMAIL.value)


class SqlRelayStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def behind(self, limit: int) -> list[str]:
        query = (
            select(H.c.tenant_id)
            .join_from(H, C, C.c.tenant_id == H.c.tenant_id, isouter=True)
            .where(H.c.event_id > func.coalesce(C.c.event_id, 0))
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [r.tenant_id for r in (await conn.execute(query)).all()]

    async def fan_out(self, tenant_id: str, now: float, limit: int, match: Matcher) -> int:
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, tenant_id)
            await insert_ignore(conn, C, {"tenant_id": tenant_id, "event_id": 0})
            cursor = (
                await conn.execute(
                    select(C.c.event_id).where(C.c.tenant_id == tenant_id).with_for_update(skip_locked=True)
                )
            ).scalar()
            if cursor is None:  # another relay holds this tenant
                return 0
            events = (
                await conn.execute(
                    select(E.c.event_id, E.c.type, E.c.data)
                    .where(E.c.tenant_id == tenant_id, E.c.event_id > cursor)
                    .order_by(E.c.event_id)
                    .limit(limit)
                )
            ).all()
            if not events:
                return 0
            subs = (
                await conn.execute(
                    select(
                        S.c.subscription_id, S.c.types, S.c.start_event, F.c.filter, W.c.consumer, W.c.service
                    )
                    .join_from(S, X, X.c.subscription_id == S.c.subscription_id)
                    .join(F, F.c.subscription_id == S.c.subscription_id, isouter=True)
                    .join(W, W.c.subscription_id == S.c.subscription_id, isouter=True)
                    .where(
                        X.c.tenant_id == tenant_id,
                        X.c.kind.in_(SENT_KINDS),
                        X.c.state.in_((State.ACTIVE.value, State.PAUSED.value)),
                    )
                )
            ).all()
            rows = [
                {
                    "subscription_id": sub.subscription_id,
                    "event_id": int(event.event_id),
                    "tenant_id": tenant_id,
                    "status": PENDING,
                    "attempts": 0,
                    "next_at": now,
                }
                for event in events
                for sub in subs
                if int(event.event_id) > int(sub.start_event)
                and match(json.loads(sub.types), source_filter(sub), event.type, event.data)
            ]
            if rows:
                await conn.execute(insert_ignoring(conn, D), rows)
            last = int(events[-1].event_id)
            await conn.execute(update(C).where(C.c.tenant_id == tenant_id).values(event_id=last))
        return len(rows)


def _free(now: float) -> object:
    return or_(D.c.lease_until.is_(None), D.c.lease_until < now)


def due_heads_query(now: float, limit: int) -> Select[tuple[str, int]]:
    """Active subscriptions' heads that are due and not leased, the longest waiting first. A head is
    found per subscription with one seek on ``ix_subscription_deliveries_head`` (not by grouping every
    pending row)."""
    head = (
        select(func.min(D2.c.event_id))
        .where(D2.c.subscription_id == X.c.subscription_id, D2.c.status == PENDING)
        .correlate(X)
        .scalar_subquery()
    )
    heads = (
        select(X.c.subscription_id, head.label("event_id"))
        .where(X.c.state == State.ACTIVE.value, X.c.kind.in_(SENT_KINDS))
        .subquery()
    )
    return (
        select(D.c.subscription_id, D.c.event_id)
        .join_from(
            D, heads, and_(D.c.subscription_id == heads.c.subscription_id, D.c.event_id == heads.c.event_id)
        )
        .where(D.c.next_at <= now, _free(now))  # type: ignore[arg-type]
        .order_by(D.c.next_at)
        .limit(limit)
    )


def _claim_statement(*, event_id: bool, after: bool) -> Update:
    """The conditional claim of a subscription's head: the head (its lowest pending event id) if it is
    due, its subscription active and no live lease holds it (a dispatch lease does not count: it only
    marks a message on the bus). Bound: ``p_sub``, ``p_now``, ``p_lease_until``, ``p_worker``, and
    ``p_event_id`` / ``p_after`` when asked for (an update may not bind a column's own name)."""
    sub, now = bindparam("p_sub", type_=D.c.subscription_id.type), bindparam("p_now", type_=Float())
    head = (
        select(func.min(D2.c.event_id))
        .where(D2.c.subscription_id == sub, D2.c.status == PENDING)
        .scalar_subquery()
    )
    active = select(X.c.subscription_id).where(X.c.subscription_id == sub, X.c.state == State.ACTIVE.value)
    conditions = [
        D.c.subscription_id == sub,
        D.c.event_id == head,
        D.c.status == PENDING,
        D.c.next_at <= now,
        or_(D.c.lease_until.is_(None), D.c.lease_until < now, D.c.worker == DISPATCHED),
        active.exists(),
    ]
    if event_id:
        conditions.append(D.c.event_id == bindparam("p_event_id", type_=D.c.event_id.type))
    if after:
        conditions.append(D.c.event_id > bindparam("p_after", type_=D.c.event_id.type))
    return (
        update(D)
        .where(*conditions)
        .values(
            attempts=D.c.attempts + 1,
            worker=bindparam("p_worker", type_=D.c.worker.type),
            lease_until=bindparam("p_lease_until", type_=Float()),
            first_attempt_at=func.coalesce(D.c.first_attempt_at, now),
        )
        .returning(D.c.event_id, D.c.tenant_id, D.c.attempts, D.c.first_attempt_at)
    )


def _finish_statement(*, next_at: bool) -> Update:
    """Ending a claimed attempt, only while ``worker`` still holds it (bound with ``p_``: ``sub``,
    ``event_id``, ``worker``, the new values, ``next_at`` when asked for)."""
    values: dict[str, Any] = {
        "status": bindparam("p_status", type_=D.c.status.type),
        "lease_until": None,
        "last_status": bindparam("p_last_status", type_=D.c.last_status.type),
        "last_error": bindparam("p_last_error", type_=D.c.last_error.type),
        "finished_at": bindparam("p_finished_at", type_=D.c.finished_at.type),
    }
    if next_at:
        values["next_at"] = bindparam("p_next_at", type_=Float())
    return (
        update(D)
        .where(
            D.c.subscription_id == bindparam("p_sub", type_=D.c.subscription_id.type),
            D.c.event_id == bindparam("p_event_id", type_=D.c.event_id.type),
            D.c.status == PENDING,
            D.c.worker == bindparam("p_worker", type_=D.c.worker.type),
        )
        .values(**values)
    )


#: built once, since every delivery runs them: building a statement and its cache key per call was a
#: sampled share of a delivery worker's CPU (``(event_id, after)`` -> claim)
_CLAIMS = {(e, a): _claim_statement(event_id=e, after=a) for e in (False, True) for a in (False, True)}
_FINISHES = {n: _finish_statement(next_at=n) for n in (False, True)}
#: a claim's subscription and event in one read (no row: either is gone)
_TARGET = (
    select(
        S.c.kind,
        S.c.url,
        S.c.email,
        S.c.secret_sealed,
        S.c.previous_sealed,
        S.c.previous_until,
        E.c.event_id,
        E.c.type,
        E.c.occurred_at,
        E.c.data,
    )
    .join_from(S, E, E.c.tenant_id == S.c.tenant_id)
    .where(
        S.c.tenant_id == bindparam("tenant"),
        S.c.subscription_id == bindparam("sub"),
        E.c.event_id == bindparam("event_id"),
    )
)


class SqlDeliveryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        #: on PostgreSQL one statement runs as its own transaction: no BEGIN and COMMIT round trips
        #: around it (measured in bench.subscriptions). SQLite keeps its explicit transaction: there,
        #: switching a pooled aiosqlite connection to autocommit and back costs two more calls into its
        #: thread per statement, and it was not measured
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else None
        )

    def _one_statement(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._single.connect() if self._single is not None else self._engine.begin()

    async def due_heads(self, now: float, limit: int, skip: set[str]) -> list[tuple[str, int]]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(due_heads_query(now, limit + len(skip)))).all()
        return [(r.subscription_id, int(r.event_id)) for r in rows if r.subscription_id not in skip][:limit]

    async def claim(
        self, subscription_id: str, event_id: int, worker: str, now: float, lease_until: float
    ) -> Claim | None:
        return await self.claim_head(subscription_id, worker, now, lease_until, event_id=event_id)

    async def claim_head(
        self,
        subscription_id: str,
        worker: str,
        now: float,
        lease_until: float,
        *,
        event_id: int | None = None,
        after: int | None = None,
    ) -> Claim | None:
        """One conditional ``UPDATE`` (``_claim_statement``), and (when given) the head is ``event_id``
        or comes after ``after``."""
        params: dict[str, object] = {
            "p_sub": subscription_id,
            "p_now": now,
            "p_worker": worker,
            "p_lease_until": lease_until,
        }
        if event_id is not None:
            params["p_event_id"] = event_id
        if after is not None:
            params["p_after"] = after
        async with self._one_statement() as conn:
            result = await conn.execute(_CLAIMS[(event_id is not None, after is not None)], params)
            row = result.first()
        if row is None:
            return None
        return Claim(
            subscription_id, row.tenant_id, int(row.event_id), int(row.attempts), float(row.first_attempt_at)
        )

    async def target(self, claim: Claim, now: float) -> Target | None:
        async with self._engine.begin() as conn:
            await scope(self._engine, conn, claim.tenant_id)
            row = (
                await conn.execute(
                    _TARGET,
                    {"tenant": claim.tenant_id, "sub": claim.subscription_id, "event_id": claim.event_id},
                )
            ).first()
        if row is None or row.secret_sealed is None:
            return None
        kind = Kind(row.kind)
        address = {Kind.WEBHOOK: row.url, Kind.EMAIL: row.email}.get(kind)
        if address is None:  # a stream (never fanned out to) or a channel without its address
            return None
        sealed = [bytes(row.secret_sealed)]
        if row.previous_sealed is not None and (row.previous_until or 0) > now:
            sealed.append(bytes(row.previous_sealed))
        return Target(row.url, tuple(sealed), stored_event(row), kind, row.email)

    async def finish(
        self,
        claim: Claim,
        worker: str,
        status: DeliveryStatus,
        *,
        next_at: float | None,
        last_status: int | None,
        error: str | None,
        now: datetime,
    ) -> bool:
        params: dict[str, object] = {
            "p_sub": claim.subscription_id,
            "p_event_id": claim.event_id,
            "p_worker": worker,
            "p_status": status.value,
            "p_last_status": last_status,
            "p_last_error": error,
            "p_finished_at": None if status is DeliveryStatus.PENDING else now,
        }
        if next_at is not None:
            params["p_next_at"] = next_at
        async with self._one_statement() as conn:
            result = await conn.execute(_FINISHES[next_at is not None], params)
        return bool(result.rowcount)

    async def channels(self, subscription_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Each subscription's kind and webhook URL (what its endpoint is), read per tenant under
        that tenant's scope (the URL is tenant data); a deleted one is missing."""
        if not subscription_ids:
            return {}
        found: dict[str, tuple[str, str | None]] = {}
        async with self._engine.begin() as conn:
            owners = (
                await conn.execute(
                    select(X.c.subscription_id, X.c.tenant_id).where(
                        X.c.subscription_id.in_(list(subscription_ids))
                    )
                )
            ).all()
            tenants: dict[str, list[str]] = {}
            for row in owners:
                tenants.setdefault(row.tenant_id, []).append(row.subscription_id)
            for tenant_id, ids in tenants.items():
                await scope(self._engine, conn, tenant_id)
                rows = await conn.execute(
                    select(S.c.subscription_id, S.c.kind, S.c.url).where(
                        S.c.tenant_id == tenant_id, S.c.subscription_id.in_(ids)
                    )
                )
                found.update({r.subscription_id: (str(r.kind), r.url) for r in rows.all()})
        return found

    async def redispatch(self, subscription_id: str, event_id: int, at: float) -> None:
        """Let a dispatched head's message go out again at ``at`` (its dispatch lease then ends); a
        head no longer dispatched is left alone."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(D)
                .where(
                    D.c.subscription_id == subscription_id,
                    D.c.event_id == event_id,
                    D.c.status == PENDING,
                    D.c.worker == DISPATCHED,
                )
                .values(lease_until=at)
            )

    async def disable(self, tenant_id: str, subscription_id: str, reason: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(X)
                .where(
                    X.c.tenant_id == tenant_id,
                    X.c.subscription_id == subscription_id,
                    X.c.state == State.ACTIVE.value,
                )
                .values(state=State.DISABLED.value, reason=reason)
            )
