"""Notifications of a FAULTed transaction are never requests, fulfilments or deliveries.

A NeoVM transaction that FAULTs keeps the notifications it emitted before the fault in its application
log, but every state change it made was rolled back: the contract never stored that request, and the
next request gets the same id. The watcher drops such events (counted as ``not_halted``); the RPC
adapter marks each event with its execution's ``vmstate``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.chain.use_cases.watcher import NOT_HALTED
from neo_service_layer.services.randomness.use_cases import RandomnessStore
from tests.unit.chain.fakes import CONTRACT, FakeChain, RecordingObserver, delivered, fulfilled, requested
from tests.unit.chain.test_chain_services import SERVICE, statuses, watcher


async def test_a_faulted_randomness_request_is_never_recorded(store: RandomnessStore) -> None:
    aborted = replace(requested(2, 0, tx="0xaborted"), vmstate="FAULT")
    chain = FakeChain(head=3, blocks={2: [aborted]})
    observer = RecordingObserver()
    result = await watcher(chain, store, observer).poll()
    assert result.cursor == 3  # the block was read and applied: just nothing in it counted
    assert await store.get(SERVICE, CONTRACT, 0) is None
    assert await statuses(store) == {}
    assert observer.outcomes == []
    assert observer.dropped == [(NOT_HALTED, 1)]


async def test_the_id_of_a_faulted_request_goes_to_the_next_real_one(store: RandomnessStore) -> None:
    """The FAULTed request's id is handed out again: the real request, not the ghost, is stored."""
    ghost = replace(requested(2, 0, tx="0xaborted"), vmstate="FAULT", values=(0, b"\x01" * 20, 9, b"g" * 32))
    chain = FakeChain(head=3, blocks={2: [ghost], 3: [requested(3, 0, tx="0xreal")]})
    await watcher(chain, store, RecordingObserver()).poll()
    row = await store.get(SERVICE, CONTRACT, 0)
    assert row is not None
    assert (row.request_block, row.request_tx, row.asked.num_words) == (3, "0xreal", 1)


async def test_faulted_fulfilments_and_deliveries_move_nothing(store: RandomnessStore) -> None:
    chain = FakeChain(head=1, blocks={1: [requested(1, 5)]})
    observer = RecordingObserver()
    await watcher(chain, store, observer).poll()
    chain.head = 2
    chain.blocks[2] = [
        replace(fulfilled(2, 5, "0xf"), vmstate="FAULT"),
        replace(delivered(2, 5, "0xf"), vmstate="FAULT"),
    ]
    await watcher(chain, store, observer).poll()
    assert await statuses(store) == {RequestStatus.SEEN: 1}
    assert observer.outcomes == ["seen"]
    assert observer.dropped == [(NOT_HALTED, 2)]


class _LogOnlyEndpoint(NeoRpcEndpoint):
    """A node without ``getblocknotifications`` (as a C# node): events come from application logs."""

    def __init__(self, logs: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__("http://127.0.0.1:1")
        self.block_notifications_supported = False
        self._logs = logs

    async def post(self, method: str, params: list[Any]) -> Any:
        if method == "getblockhash":
            return "0x" + "00" * 32
        if method == "getblock":
            return {"tx": [{"hash": tx} for tx in self._logs]}
        if method == "getapplicationlog":
            return {"executions": self._logs[params[0]]}
        raise AssertionError(method)


def _notification(request_id: int) -> dict[str, Any]:
    return {
        "contract": CONTRACT,
        "eventname": "RandomnessRequested",
        "state": {
            "type": "Array",
            "value": [
                {"type": "Integer", "value": str(request_id)},
                {"type": "ByteString", "value": "AAECAwQFBgcICQoLDA0ODxAREhM="},
                {"type": "Integer", "value": "1"},
                {"type": "ByteString", "value": "c2VlZA=="},
            ],
        },
    }


async def test_application_log_events_carry_their_execution_state() -> None:
    endpoint = _LogOnlyEndpoint(
        {
            "0xaa": [{"vmstate": "FAULT", "exception": "ABORT", "notifications": [_notification(0)]}],
            "0xbb": [{"vmstate": "HALT", "notifications": [_notification(0)]}],
        }
    )
    try:
        events, _ = await endpoint.block_events(7, CONTRACT)
    finally:
        await endpoint.close()
    assert [(e.tx_hash, e.vmstate, e.halted, e.values[0]) for e in events] == [
        ("0xaa", "FAULT", False, 0),
        ("0xbb", "HALT", True, 0),
    ]
