"""``/api/v1/crosschain/messages``: one message by id and a sender's messages by nonce, as the relayer
stored them (written here through the real store, as the worker's watchers do)."""

from __future__ import annotations

from datetime import UTC, datetime

from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.rules import Executed, Sent
from neo_service_layer.services.crosschain.scopes import CROSSCHAIN_READ
from tests.http.keys.conftest import Api, api, api_settings, clock, enclave, ensure_enclave

__all__ = ["api", "api_settings", "clock", "enclave", "ensure_enclave"]

N3, NEOX = 2**63 + 42, 31337
SENDER = bytes.fromhex("ab" * 20)
NOW = datetime(2026, 12, 3, tzinfo=UTC)


async def test_messages_by_id_and_by_sender(api: Api) -> None:
    store = SqlCrosschainStore(api.container.engine)
    sent = [
        Sent(N3, n, SENDER, NEOX, b"\x02" * 20, b"ping", 200_000, 10**6, 9, f"0x{n:064x}") for n in (1, 2, 3)
    ]
    await store.apply_block("c", 9, sent, NOW)
    await store.apply_block("x", 4, [Executed(N3, 1, 1, True, b"echo:ping", 4, "0x" + "ee" * 32)], NOW)
    tenant = await api.tenant("acme")
    shown = await tenant.call("GET", f"/api/v1/crosschain/messages/{N3}-1", CROSSCHAIN_READ)
    assert shown.status_code == 200
    body = shown.json()
    assert body["messageId"] == f"{N3}-1"
    assert (body["srcChain"], body["destChain"], body["nonce"]) == (str(N3), str(NEOX), 1)
    assert (body["sender"], body["payload"], body["gasLimit"], body["fee"]) == (
        "ab" * 20,
        b"ping".hex(),
        200_000,
        "1000000",
    )
    assert (body["status"], body["attempts"], body["result"], body["destTx"]) == (
        "executed",
        1,
        b"echo:ping".hex(),
        "0x" + "ee" * 32,
    )
    assert (body["receiptStatus"], body["receiptAttempt"]) == ("due", 0)
    page = await tenant.call(
        "GET", "/api/v1/crosschain/messages", CROSSCHAIN_READ,
        params={"chain": str(N3), "sender": "0x" + "AB" * 20, "limit": 2},
    )  # fmt: skip
    assert page.status_code == 200
    assert [m["nonce"] for m in page.json()["items"]] == [1, 2]
    assert page.json()["next"] == 2
    rest = await tenant.call(
        "GET", "/api/v1/crosschain/messages", CROSSCHAIN_READ,
        params={"chain": str(N3), "sender": "ab" * 20, "after": 2},
    )  # fmt: skip
    assert [m["nonce"] for m in rest.json()["items"]] == [3]
    assert rest.json()["next"] is None


async def test_unknown_malformed_and_unauthorised(api: Api) -> None:
    tenant = await api.tenant("acme")
    missing = await tenant.call("GET", f"/api/v1/crosschain/messages/{N3}-99", CROSSCHAIN_READ)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    for bad in ("1", "x-1", f"{N3}-", "1" * 21 + "-1"):
        refused = await tenant.call("GET", f"/api/v1/crosschain/messages/{bad}", CROSSCHAIN_READ)
        assert refused.status_code == 422, bad
    no_sender = await tenant.call(
        "GET", "/api/v1/crosschain/messages", CROSSCHAIN_READ, params={"chain": "1"}
    )
    assert no_sender.status_code == 422
    denied = await tenant.call("GET", f"/api/v1/crosschain/messages/{N3}-1", "keys:read")
    assert denied.status_code == 403
