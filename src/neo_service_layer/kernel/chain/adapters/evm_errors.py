"""A contract's Solidity custom errors by selector: naming the error a revert carries.

A reverted ``eth_call`` returns the error's 4-byte selector (the Keccak-256 of its signature) and its
ABI-encoded arguments; the services decide by the error's name (``AlreadyFulfilled``, ``DeliveringPaused``).
"""

from __future__ import annotations

from eth_utils.crypto import keccak


class CustomErrors:
    """The errors ``signatures`` (``"AlreadyFulfilled(uint256)"``, ...) of one contract."""

    def __init__(self, *signatures: str) -> None:
        self._by_selector = {keccak(text=s)[:4].hex(): s.split("(", 1)[0] for s in signatures}

    def name(self, data: str | None) -> str | None:
        """The error whose selector starts the revert data (``0x`` hex), if it is one of these."""
        return self._by_selector.get((data or "").removeprefix("0x")[:8].lower())
