"""What serving Neo's native Oracle needs from the chain and the enclave, beyond the ``Chain`` port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from neo_service_layer.enclave.wire.native_oracle import NativeResponse


class NotAnOracleNode(Exception):
    """This node's key is not designated, or the designated set needs more signatures than it holds."""


class NativeOracleChain(Protocol):
    @property
    def public_key(self) -> bytes:
        """The compressed public key this node signs responses with."""
        ...

    async def oracle_nodes(self) -> tuple[bytes, ...]:
        """Public keys designated for the Oracle role as of the next block."""
        ...

    def signs_alone(self, nodes: Sequence[bytes]) -> bool:
        """Whether this node's signature alone completes a response for the designated ``nodes``."""
        ...

    async def respond(self, request_ids: Sequence[int]) -> list[NativeResponse]:
        """The enclave's answer to each request id, in order: the response it built from its own read of
        the request and its own fetch, signed (``SIGNED``: the whole transaction; ``SUBMISSION``: the
        signatures for the other designated nodes), or why there is none (``GONE``, ``REFUSED``).
        ``ChainUnavailable`` when the enclave's node does not answer."""
        ...

    async def submit(self, responses: Sequence[NativeResponse], nodes: Sequence[bytes]) -> int:
        """Hand the enclave's signatures of ``SUBMISSION`` responses to the other designated nodes
        (``submitoracleresponse``), one of which sends the transaction once it holds enough; return how
        many of them took the signatures (``ChainUnavailable`` if none did, ``NotAnOracleNode`` if none
        is configured)."""
        ...
