"""What serving Neo's native Oracle needs from the chain, beyond the ``Chain`` port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from neo_service_layer.kernel.chain.ports.chain import SignedTransaction
from neo_service_layer.services.native_oracle.rules import NativeAnswer, NativeRequest


class NotAnOracleNode(Exception):
    """This node's key is not designated, or the designated set needs more signatures than it holds."""


class NativeOracleChain(Protocol):
    @property
    def public_key(self) -> bytes:
        """The compressed public key this node signs responses with."""
        ...

    async def pending_request(self, request_id: int) -> NativeRequest | None:
        """The request as the native contract stores it; ``None`` once it was answered (or never was)."""
        ...

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        """Public keys designated for the Oracle role as of the next block."""
        ...

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        """Whether this node's signature alone completes a response for the designated ``nodes``."""
        ...

    async def build_responses(
        self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]
    ) -> list[SignedTransaction]:
        """The signed response transactions, in order (``NotAnOracleNode`` if this node cannot sign alone).

        A batch is priced and signed together: a burst costs one fee estimate and one enclave call.
        """
        ...

    async def submit_responses(self, answers: Sequence[NativeAnswer], nodes: Sequence[bytes]) -> int:
        """When the designated nodes' account needs several signatures: sign each response transaction as
        every designated node builds it and hand the signatures to the other nodes, one of which sends
        the transaction once it holds enough; return how many of them took the signatures
        (``ChainUnavailable`` if none did, ``NotAnOracleNode`` if none is configured)."""
        ...
