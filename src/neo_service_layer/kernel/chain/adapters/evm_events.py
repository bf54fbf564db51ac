"""An EVM chain as the watcher's ``BlockSource``: a contract's logs per block, decoded by its ABI.

The kernel's ``ChainWatcher`` (durable cursor, one database transaction per block, re-reading a block
that changed) then serves EVM contracts unchanged. What differs from Neo N3:

- ``height`` is the newest block with ``confirmations`` blocks on it, itself included: 1 (the default)
  applies the head at once, right on Neo X where dBFT blocks are final when made; a larger depth keeps a
  reorganising chain's recent blocks unread until they are that deep;
- a block's logs are read by its hash (``eth_getLogs`` with ``blockHash``), so the events and the hash
  the watcher remembers always belong to the same block; a reorganised block is noticed by that hash;
- a reverted transaction leaves no logs, so every event is of a successful execution (``HALT``);
- an event's values are its ABI inputs in order: addresses as checksummed strings, integers, bytes;
- a source given a ``default_abi`` reads any contract it has no ABI for with that one (the ERC-20
  ``Transfer`` of any token a tenant names); a log of such a contract that does not fit the ABI (an
  ERC-721 ``Transfer`` has the same topic, with the token id indexed) is left out, not an error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import LogTopicError, MismatchedABI

from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.ports.chain import BlockEvents, ChainEvent


class EvmEventSource:
    """Implements ``ports.chain.BlockSource`` for the contracts whose event ABIs it is given (and, with
    ``default_abi``, for any other contract)."""

    def __init__(
        self,
        chain: EvmChain,
        abis: dict[str, list[dict[str, Any]]],
        *,
        confirmations: int = 1,
        default_abi: list[dict[str, Any]] | None = None,
    ) -> None:
        if confirmations < 1:
            raise ValueError("confirmations must be at least 1")
        self._chain = chain
        self._confirmations = confirmations
        self._default_abi = default_abi
        # per contract (lower-case address): topic0 -> web3 event decoder
        self._events: dict[str, dict[bytes, Any]] = {
            address.lower(): self._decoders(address, abi) for address, abi in abis.items()
        }
        # contracts read with the default ABI (decoders made on the first read)
        self._defaulted: dict[str, dict[bytes, Any]] = {}

    def _decoders(self, address: str, abi: list[dict[str, Any]]) -> dict[bytes, Any]:
        contract = self._chain.contract(address, abi)
        decoders = {}
        for entry in abi:
            if entry.get("type") == "event" and not entry.get("anonymous"):
                event = contract.events[entry["name"]]()
                decoders[bytes(HexBytes(event.topic))] = event
        return decoders

    def _decoders_of(self, contract: str) -> tuple[dict[bytes, Any], bool]:
        """The contract's decoders and whether they are the default ABI's."""
        key = contract.lower()
        if key in self._events:
            return self._events[key], False
        if self._default_abi is None:
            raise ValueError(f"no ABI for contract {contract}")
        if key not in self._defaulted:
            self._defaulted[key] = self._decoders(contract, self._default_abi)
        return self._defaulted[key], True

    async def height(self) -> int:
        return max(await self._chain.block_number() - (self._confirmations - 1), 0)

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        decoders, defaulted = self._decoders_of(contract)
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
            try:
                args = decoder.process_log(log)["args"]
            except (MismatchedABI, LogTopicError, DecodingError):
                if not defaulted:  # a contract's own ABI that does not fit its logs is a real error
                    raise
                continue
            names = [i["name"] for i in decoder.abi["inputs"]]
            events.append(
                ChainEvent(
                    block=index,
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                    contract=contract,
                    name=decoder.event_name,
                    values=tuple(_plain(args[n]) for n in names),
                    log_index=int(log["logIndex"]),
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
