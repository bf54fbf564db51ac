"""The Neo X side of transfer watches: an EVM ``BlockSource`` that reads the ERC-20 ``Transfer`` of any
token contract a tenant names (it has no per-token ABI: the standard event is the default ABI)."""

from __future__ import annotations

from typing import Any

from neo_service_layer.kernel.chain.adapters.evm_events import EvmEventSource
from neo_service_layer.kernel.chain.evm_parts import EvmKernel

#: ``Transfer(address indexed from, address indexed to, uint256 value)`` (EIP-20)
TRANSFER_ABI: list[dict[str, Any]] = [
    {
        "type": "event",
        "name": "Transfer",
        "anonymous": False,
        "inputs": [
            {"name": "from", "type": "address", "indexed": True},
            {"name": "to", "type": "address", "indexed": True},
            {"name": "value", "type": "uint256", "indexed": False},
        ],
    }
]


def transfer_source(evm: EvmKernel) -> EvmEventSource:
    """Neo X blocks as the transfer scanner reads them (the network's confirmation depth)."""
    return EvmEventSource(evm.chain, {}, confirmations=evm.network.confirmations, default_abi=TRANSFER_ABI)
