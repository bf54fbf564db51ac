"""Gathering the designated oracle nodes' signatures, as neo-go's oracle service does.

With several designated nodes (``m = n - (n - 1) / 3`` signatures), every node builds the same response
transaction and signs it; each hands its signature to the others (``submitoracleresponse``), and a node
that holds ``m`` signatures verifying against the designated keys sends the transaction.

This node's side:

- ``receive`` (the API's ``submitoracleresponse``): a signature from a key designated for the Oracle role,
  whose message signature over (key || request id || transaction signature) verifies, is kept; the
  transaction signature itself is checked when combined, against this node's own transaction (it may
  arrive first, or be for a backup response);
- ``keep`` (the worker, after the enclave signed ``SUBMISSION`` responses): this node's transaction and
  its signature are kept;
- ``complete``: this node's transaction with ``m`` verified signatures in its witness, or nothing yet.

The API sends a transaction it completed (``receive_and_send``); the worker writes one it completed
through the outbox, like a response it signs alone (``use_cases``). Once sent, the request's waiting
transaction and signatures are dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from neo_service_layer.enclave.wire.native_oracle import NativeResponse
from neo_service_layer.kernel.chain.ports.chain import Chain, SendOutcome
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.native_oracle.ports import Multisig, SignatureStore

log = get_logger("nsl.native_oracle")

_U64 = 2**64
#: how long signatures and waiting transactions are kept: longer than a main response is valid on
#: networks of 15-second blocks (5,760 blocks, a day); a node answering again keeps its own anew
KEPT_FOR = timedelta(days=2)


class SubmissionRefused(Exception):
    """A ``submitoracleresponse`` this node does not keep; ``code`` is neo-go's JSON-RPC error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


#: neo-go's ``neorpc`` codes
INVALID_PARAMS = -32602
INVALID_SIGNATURE = -508
NOT_DESIGNATED = -605


class SignatureGatherer:
    """Keeps the nodes' signatures and completes this node's response transactions."""

    def __init__(
        self,
        store: SignatureStore,
        multisig: Multisig,
        designated: Callable[[], Awaitable[Sequence[bytes]]],
        clock: Clock,
    ) -> None:
        self._store = store
        self._multisig = multisig
        self._designated = designated
        self._clock = clock

    async def receive(
        self, public_key: bytes, request_id: int, tx_signature: bytes, message_signature: bytes
    ) -> tuple[Sequence[bytes], bytes | None]:
        """Keep a node's signature; (the designated keys, this node's transaction if now complete).
        ``SubmissionRefused`` when it is not kept."""
        if len(public_key) != 33 or public_key[0] not in (2, 3):
            raise SubmissionRefused(INVALID_PARAMS, "public key is not a compressed secp256r1 key")
        if not 0 <= request_id < _U64:
            raise SubmissionRefused(INVALID_PARAMS, "request ID is not a 64-bit unsigned integer")
        if len(tx_signature) != 64:
            raise SubmissionRefused(INVALID_PARAMS, "tx signature is not 64 bytes")
        if not self._multisig.submission_valid(public_key, request_id, tx_signature, message_signature):
            raise SubmissionRefused(INVALID_SIGNATURE, "Invalid signature")
        nodes = await self._designated()
        if public_key not in nodes:
            raise SubmissionRefused(NOT_DESIGNATED, "the key is not designated for the Oracle role")
        await self._store.add_signature(request_id, public_key, tx_signature, self._clock.now())
        return nodes, await self.complete(request_id, nodes)

    async def receive_and_send(
        self, chain: Chain, public_key: bytes, request_id: int, tx_signature: bytes, message_signature: bytes
    ) -> None:
        """``receive``, then send this node's transaction if it is now complete (the worker sends it
        otherwise, when it answers the request again)."""
        _, raw = await self.receive(public_key, request_id, tx_signature, message_signature)
        if raw is None:
            return
        sent = await chain.send(raw)
        if sent.outcome is SendOutcome.REJECTED:
            log.warning(
                "native oracle response refused by the node", request_id=request_id, detail=sent.detail
            )
            return
        await self._store.forget(request_id)

    async def keep(self, own_key: bytes, responses: Sequence[NativeResponse]) -> None:
        """This node's transactions and signatures of ``SUBMISSION`` responses; what is older than
        ``KEPT_FOR`` goes (requests another node answered leave their rows behind)."""
        now = self._clock.now()
        await self._store.prune(now - KEPT_FOR)
        for response in responses:
            await self._store.set_pending(response.request_id, response.raw, response.valid_until_block, now)
            await self._store.add_signature(response.request_id, own_key, response.tx_signature, now)

    async def complete(self, request_id: int, nodes: Sequence[bytes]) -> bytes | None:
        """This node's transaction for ``request_id`` with enough verified signatures, else ``None``."""
        raw = await self._store.pending(request_id)
        if raw is None:
            return None
        return self._multisig.complete(raw, nodes, await self._store.signatures(request_id))

    async def forget(self, request_ids: Sequence[int]) -> None:
        for request_id in request_ids:
            await self._store.forget(request_id)
