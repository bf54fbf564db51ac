"""What serving Neo's native Oracle needs from the chain and the enclave, beyond the ``Chain`` port."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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


class SignatureStore(Protocol):
    """Where the signatures of the designated nodes and this node's waiting transactions are kept
    (shared by the API, which takes ``submitoracleresponse``, and the worker, which answers)."""

    async def add_signature(
        self, request_id: int, public_key: bytes, signature: bytes, now: datetime
    ) -> bool:
        """Keep a node's signature; ``False`` for an exact repeat. A key keeps its latest few signatures
        per request (the oldest gives way)."""
        ...

    async def signatures(self, request_id: int) -> list[tuple[bytes, bytes]]:
        """(public key, signature) pairs gathered for a request, oldest first."""
        ...

    async def set_pending(self, request_id: int, raw: bytes, valid_until_block: int, now: datetime) -> None:
        """This node's response transaction (its own signature in the witness) for a request, replacing
        an earlier one."""
        ...

    async def pending(self, request_id: int) -> bytes | None:
        """This node's waiting response transaction for a request."""
        ...

    async def forget(self, request_id: int) -> None:
        """Drop a request's waiting transaction (sent complete) and its gathered signatures."""
        ...

    async def prune(self, before: datetime) -> int:
        """Drop signatures received and waiting transactions written before ``before`` (their requests
        were answered by another node or are long gone); how many rows went."""
        ...


class Multisig(Protocol):
    """Signature checks and the oracle nodes' multisig witness (adapter: ``adapters.multisig``)."""

    def submission_valid(
        self, public_key: bytes, request_id: int, tx_signature: bytes, message_signature: bytes
    ) -> bool:
        """Whether ``message_signature`` is ``public_key``'s over ``submission_message``."""
        ...

    def complete(
        self, raw: bytes, nodes: Sequence[bytes], signatures: Sequence[tuple[bytes, bytes]]
    ) -> bytes | None:
        """``raw`` with the multisig witness of the designated ``nodes`` filled from ``signatures``
        (each verified against its key and the transaction), or ``None`` while fewer than the threshold
        verify."""
        ...
