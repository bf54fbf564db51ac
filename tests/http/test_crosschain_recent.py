"""``/api/v1/crosschain/recent`` and the ``why`` of every message route, on SQLite and PostgreSQL: messages
written through the real store (``crosschain_seed``), pages newest first with an opaque cursor, the
filters, the reason each state's facts support, and the scope."""

from __future__ import annotations

import os
from typing import Any

from neo_service_layer.kernel.db.heartbeats import record_heartbeat
from neo_service_layer.services.crosschain.scopes import CROSSCHAIN_READ
from tests.http.crosschain_seed import (
    N3,
    NEOX,
    NEWEST_FIRST,
    PAUSED,
    RECEIPT_WAIT,
    REFUSAL,
    REVERT,
    SEND_ERROR,
    STATES,
    seed_messages,
)
from tests.http.subscriptions.conftest import (  # noqa: F401  (fixtures)
    Api,
    Tenant,
    api,
    backend_settings,
    clock,
    subs_settings,
)

BASE = "/api/v1/crosschain"


async def _get(tenant: Tenant, path: str, *scopes: str, **params: Any) -> Any:
    headers = {"authorization": f"Bearer {await tenant.key(*(scopes or (CROSSCHAIN_READ,)))}"}
    return await tenant.client.get(f"{BASE}{path}", params=params, headers=headers)


async def _heartbeat(app: Api) -> None:
    now = app.clock.now()
    engine = app.container.engine
    await record_heartbeat(engine, worker_id="w1", hostname="h", pid=os.getpid(), started_at=now, now=now)


async def test_pages_newest_first_with_the_reason_of_each_state(api: Api) -> None:  # noqa: F811
    await seed_messages(api.container.engine, api.clock.now())
    await _heartbeat(api)
    tenant = await api.tenant("acme")
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        answer = await _get(tenant, "/recent", **params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["items"]) <= 3
        seen += body["items"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [m["messageId"] for m in seen] == NEWEST_FIRST
    by_id = {m["messageId"]: m for m in seen}
    assert {i: m["status"] for i, m in by_id.items()} == STATES
    codes = {i: (m["why"]["code"], m["why"]["stuck"]) if m["why"] else None for i, m in by_id.items()}
    assert codes == {
        f"{N3}-1": None,  # executed, its receipt stored
        f"{N3}-2": ("receiver_failed", True),
        f"{N3}-3": ("tx_send_error", True),
        f"{N3}-4": ("direction_paused", True),
        f"{N3}-5": ("refused", True),
        f"{NEOX}-1": ("waiting_claim", False),
        f"{NEOX}-2": ("tx_not_included", False),
    }
    # the failed message's receipt was given back by the relayer: its revert reason stays the outcome,
    # the relayer's note is its own field, and the why names both
    failed_why = by_id[f"{N3}-2"]["why"]["text"]
    assert f"the receiver reverted on attempt 1: {REVERT}." in failed_why
    assert "receipt: the relayer gave it back (until " in failed_why
    assert failed_why.endswith(RECEIPT_WAIT)
    notes = {i: (m["reason"], m["relayNote"]) for i, m in by_id.items()}
    assert notes == {
        f"{N3}-1": (None, None),
        f"{N3}-2": (REVERT, RECEIPT_WAIT),
        f"{N3}-3": (None, None),
        f"{N3}-4": (None, PAUSED),
        f"{N3}-5": (REFUSAL, None),
        f"{NEOX}-1": (None, None),
        f"{NEOX}-2": (None, None),
    }
    assert SEND_ERROR in by_id[f"{N3}-3"]["why"]["text"]
    assert PAUSED in by_id[f"{N3}-4"]["why"]["text"]
    assert by_id[f"{N3}-5"]["why"]["text"].endswith(REFUSAL)
    assert "valid until block 500" in by_id[f"{NEOX}-2"]["why"]["text"]  # an N3 delivery expires
    assert "valid until" not in by_id[f"{N3}-3"]["why"]["text"]  # an EVM one does not
    first = by_id[f"{N3}-1"]
    assert (first["srcChain"], first["destChain"], first["sender"], first["receiver"]) == (
        str(N3),
        str(NEOX),
        "ab" * 20,
        "cd" * 20,
    )
    assert (first["receiptStatus"], first["attempts"]) == ("stored", 1)


async def test_filters_and_the_other_routes_carry_the_same_why(api: Api) -> None:  # noqa: F811
    await seed_messages(api.container.engine, api.clock.now())
    tenant = await api.tenant("acme")

    async def ids(**params: Any) -> list[str]:
        answer = await _get(tenant, "/recent", **params)
        assert answer.status_code == 200, answer.text
        return [m["messageId"] for m in answer.json()["items"]]

    assert await ids(status="failed") == [f"{N3}-2"]
    assert await ids(status="delivering") == [f"{NEOX}-2", f"{N3}-3"]
    assert await ids(source=str(NEOX)) == [f"{NEOX}-2", f"{NEOX}-1"]
    assert await ids(destination=str(NEOX), status="seen") == [f"{N3}-4"]
    assert await ids(source=str(NEOX), destination=str(NEOX)) == []
    # no heartbeat recorded: what waits for a worker says so
    one = await _get(tenant, f"/messages/{NEOX}-1")
    assert one.status_code == 200
    assert one.json()["why"] == {
        "code": "no_worker",
        "text": "waiting for a worker: no worker has sent a heartbeat recently",
        "stuck": True,
    }
    done = await _get(tenant, f"/messages/{N3}-1")
    assert done.json()["why"] is None
    by_sender = await _get(tenant, "/messages", chain=str(N3), sender="ab" * 20, limit=2)
    assert [(m["nonce"], m["why"] and m["why"]["code"]) for m in by_sender.json()["items"]] == [
        (1, None),
        (2, "receiver_failed"),
    ]


async def test_bad_input_and_a_missing_scope_are_problems(api: Api) -> None:  # noqa: F811
    tenant = await api.tenant("acme")
    for params in (
        {"cursor": "not-a-cursor"},
        {"limit": 0},
        {"limit": 201},
        {"status": "lost"},
        {"source": "-1"},
        {"destination": "x"},
    ):
        refused = await _get(tenant, "/recent", **params)
        assert refused.status_code == 422, params
        assert refused.headers["content-type"].startswith("application/problem+json"), params
    assert (await _get(tenant, "/recent", limit=200)).json() == {"items": [], "nextCursor": None}
    denied = await _get(tenant, "/recent", "keys:read")
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    assert CROSSCHAIN_READ in denied.json()["detail"]
