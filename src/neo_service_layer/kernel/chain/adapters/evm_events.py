"""An EVM chain as the watcher's ``BlockSource``: a contract's logs per block, decoded by its ABI.

The kernel's ``ChainWatcher`` (durable cursor, one database transaction per block, re-reading a block
that changed) then serves EVM contracts unchanged. What differs from Neo N3:

- ``height`` is the newest block with ``confirmations`` blocks on it, itself included: 1 (the default)
  applies the head at once, right on Neo X where dBFT blocks are final when made; a larger depth keeps a
  reorganising chain's recent blocks unread until they are that deep;
- a block's logs are read by its hash (``eth_getLogs`` with ``blockHash``), so the events and the hash
  the watcher remembers always belong to the same block; a reorganised block is noticed by that hash;
- a reverted transaction leaves no logs, so every event is of a successful execution (``HALT``);
- an event's values are its ABI inputs in order: addresses as checksummed strings, integers, bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes

from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.ports.chain import BlockEvents, ChainEvent


class EvmEventSource:
    """Implements ``ports.chain.BlockSource`` for the contracts whose event ABIs it is given."""

    def __init__(
        self, chain: EvmChain, abis: dict[str, list[dict[str, Any]]], *, confirmations: int = 1
    ) -> None:
        if confirmations < 1:
            raise ValueError("confirmations must be at least 1")
        self._chain = chain
        self._confirmations = confirmations
        # per contract (lower-case address): topic0 -> web3 event decoder
        self._events: dict[str, dict[bytes, Any]] = {}
        for address, abi in abis.items():
            contract = chain.contract(address, abi)
            decoders = {}
            for entry in abi:
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    event = contract.events[entry["name"]]()
                    decoders[bytes(HexBytes(event.topic))] = event
            self._events[address.lower()] = decoders

    async def height(self) -> int:
        return max(await self._chain.block_number() - (self._confirmations - 1), 0)

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        decoders = self._events.get(contract.lower())
        if decoders is None:
            raise ValueError(f"no ABI for contract {contract}")
        block_hash, timestamp = await self._chain.block_header(index)
        logs = await self._chain.get_logs(
            {"blockHash": HexBytes(block_hash), "address": to_checksum_address(contract)}
        )
        events: list[ChainEvent] = []
        for log in logs:
            topics = log["topics"]
            decoder = decoders.get(bytes(topics[0])) if topics else None
            if decoder is None or log.get("removed"):
                continue
            args = decoder.process_log(log)["args"]
            names = [i["name"] for i in decoder.abi["inputs"]]
            events.append(
                ChainEvent(
                    block=index,
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                    contract=contract,
                    name=decoder.event_name,
                    values=tuple(_plain(args[n]) for n in names),
                )
            )
        when = datetime.fromtimestamp(timestamp, UTC) if events else None
        return BlockEvents(index, when, tuple(events), block_hash)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value
