"""The enclave's ``crosschain_sign`` op: a cross-chain MESSAGE or RECEIPT signed from what the enclave read
itself on the source chain (formats: ``wire/crosschain.py``).

Wire arguments (a pointer to the source event, nothing of its content)::

    {"key_id": str, "kind": "message" | "receipt", "chain_id": int, "tx_hash": "0x<64 hex>", "nonce": int,
     "peer_chain": int (receipt only: the message's source chain)}

Result: ``SignedXMessage.to_wire()``: the facts read, ``digest`` (32 bytes) and ``signature`` (65 bytes
r || s || v for an EVM destination, 64 bytes r || s for an N3 one), binary values base64.

For a MESSAGE the enclave looks the transaction up on ``chain_id``'s node of its own configuration
(EVM: ``evm_rpc.py``, ``NSL_EVM_RPC_URLS``/``NSL_EVM_CHAIN_ID``; N3: ``neo_rpc.py``, ``NSL_NEO_RPC_URLS``,
the chain id being 2^63 + the node's network magic), requires it successful (EVM status 1, N3 HALT) with
at least the configured confirmations, and takes the ``MessageSent`` of ``nonce`` emitted by that
chain's registered gateway (``NSL_XMSG_EVM_GATEWAY`` / ``NSL_XMSG_N3_GATEWAY``, else the contract the
``cli`` client registered as service ``crosschain`` for the EVM sender / N3 sender, sealed in the enclave's
state: ``allow_evm_contracts`` / ``allow_contracts``); the destination chain
must have a registered gateway too. For a RECEIPT it takes, the same way, the ``MessageExecuted`` of
``(peer_chain, nonce)`` from the executing chain's gateway, whose source contract must be the peer's
registered gateway. It then builds the preimage and signs it with a secp256k1 key of purpose
``crosschain`` (typed-only: no raw ``sign`` uses it). A host that can talk to the enclave gets at most
signatures over events the registered gateways really emitted (as the enclave's nodes report them).

Refusals: ``PolicyDenied`` (no such transaction, reverted/FAULTed, no matching event from the registered
gateway, an unregistered chain, a malformed event), ``NodeUnavailable`` (no node answered, or the
transaction is not yet confirmed enough: the host retries later), ``InvalidKeyRequest`` (bad arguments or
key kind).

Residual trust: whoever runs the enclave's nodes (see ``neo_rpc.py`` and ``evm_rpc.py``) and whoever sets
the enclave's configuration (the registered gateways and node URLs) can make it sign a message that was
never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from neo_service_layer.enclave.crosschain_events import (
    ExecutedEvent,
    SentEvent,
    evm_executed,
    evm_sent,
    n3_executed,
    n3_sent,
)
from neo_service_layer.enclave.evm_rpc import EvmReader
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.op_args import require_kind
from neo_service_layer.enclave.signing import keccak256
from neo_service_layer.enclave.wire.crosschain import (
    MAX_RESULT_BYTES,
    N3_CHAIN_BASE,
    SignedXMessage,
    SourcePointer,
    XFacts,
    XKind,
    n3_chain_id,
    preimage,
    receipt_payload,
)
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.native_oracle import NodeUnavailable
from neo_service_layer.enclave.wire.protocol import Args


class N3LogReader(Protocol):
    """What the enclave reads from a Neo N3 node for cross-chain messages (``neo_rpc.JsonRpcReader``)."""

    async def version(self) -> tuple[int, int]: ...

    async def height(self) -> int: ...

    async def transaction_height(self, tx_hash: str) -> int | None: ...

    async def application_log(self, tx_hash: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class CrossChainSources:
    """The enclave's configuration of cross-chain messages: its readers, the registered gateways (20
    bytes; an N3 script hash as the NeoVM holds it) and the confirmations a source event needs."""

    evm: EvmReader
    n3: N3LogReader
    evm_gateway: bytes | None = None
    n3_gateway: bytes | None = None
    evm_confirmations: int = 1
    n3_confirmations: int = 1


@dataclass(frozen=True, slots=True)
class _Chain:
    chain_id: int
    evm: bool
    gateway: bytes


def _pointer(args: Args) -> SourcePointer:
    try:
        kind = XKind(args.text("kind"))
    except ValueError:
        raise InvalidKeyRequest("kind must be 'message' or 'receipt'") from None
    peer = args.opt_integer("peer_chain")
    try:
        return SourcePointer(
            kind, args.integer("chain_id"), args.text("tx_hash"), args.integer("nonce"), peer or 0
        )
    except InvalidInput as exc:
        raise InvalidKeyRequest(str(exc)) from None


class CrossChainSignOp:
    """Runs ``crosschain_sign`` (asynchronous: it reads the source chain)."""

    def __init__(
        self,
        keys: KeyStore,
        sources: CrossChainSources,
        registered: Callable[[bool, int], str | None] = lambda _evm, _chain: None,
    ) -> None:
        self._keys = keys
        self._sources = sources
        self._registered = registered

    def _gateway(self, configured: bytes | None, evm: bool, chain: int) -> bytes | None:
        """The configured gateway, else the contract the ``cli`` client registered (sealed) as service
        ``crosschain`` for the chain (EVM chain id, or N3 magic) with ``allow_(evm_)contracts``."""
        if configured is not None:
            return configured
        text = self._registered(evm, chain)
        if text is None:
            return None
        raw = bytes.fromhex(text[2:])
        return raw if evm else raw[::-1]  # an N3 script hash as the NeoVM holds it

    async def __call__(self, args: Args) -> dict[str, Any]:
        key_id = args.text("key_id")
        pointer = _pointer(args)
        require_kind(self._keys, key_id, KeyKind.SECP256K1, "key_id")
        if Purpose.CROSSCHAIN not in self._keys.purposes(key_id):
            # checked before any node is asked: nothing is read for a signature this key cannot give
            raise PolicyDenied("key policy does not allow purpose crosschain")
        source = await self._chain(pointer.chain_id)
        if pointer.kind is XKind.MESSAGE:
            facts, dest = await self._message(source, pointer)
        else:
            facts, dest = await self._receipt(source, pointer)
        message = preimage(facts, keccak256(facts.payload))
        fmt = SignatureFormat.EVM_RECOVERABLE if dest.evm else SignatureFormat.ECDSA_KECCAK256
        (signature,) = self._keys.sign_for_operation(
            key_id, [message], tenant=PLATFORM_KEY_OWNER, purpose=Purpose.CROSSCHAIN, fmt=fmt
        )
        return SignedXMessage(facts, keccak256(message), signature).to_wire()

    async def _chain(self, chain_id: int) -> _Chain:
        """The registered chain ``chain_id`` (its gateway), or ``PolicyDenied``."""
        s = self._sources
        evm_chain = s.evm.chain_id
        if evm_chain is not None and chain_id == evm_chain:
            gateway = self._gateway(s.evm_gateway, True, evm_chain)
            if gateway is not None:
                return _Chain(chain_id, True, gateway)
        if not 0 < chain_id - N3_CHAIN_BASE < 2**32:  # no N3 network: its node is not even asked
            raise PolicyDenied(f"chain {chain_id} has no gateway registered in the enclave")
        magic, _ = await s.n3.version()
        gateway = self._gateway(s.n3_gateway, False, magic) if chain_id == n3_chain_id(magic) else None
        if gateway is not None:
            return _Chain(chain_id, False, gateway)
        raise PolicyDenied(f"chain {chain_id} has no gateway registered in the enclave")

    async def _message(self, source: _Chain, pointer: SourcePointer) -> tuple[XFacts, _Chain]:
        if source.evm:
            sent = evm_sent(await self._evm_receipt(pointer.tx_hash), source.gateway)
        else:
            sent = n3_sent(await self._n3_log(pointer.tx_hash), source.gateway)
        event = _one([e for e in sent if e.nonce == pointer.nonce], "MessageSent", pointer)
        dest = await self._chain(event.dest_chain)
        return _facts(XKind.MESSAGE, source, dest, event), dest

    async def _receipt(self, source: _Chain, pointer: SourcePointer) -> tuple[XFacts, _Chain]:
        peer = await self._chain(pointer.peer_chain)
        if source.evm:
            executed = evm_executed(await self._evm_receipt(pointer.tx_hash), source.gateway)
        else:
            executed = n3_executed(await self._n3_log(pointer.tx_hash), source.gateway)
        matching = [e for e in executed if e.nonce == pointer.nonce and e.src_chain == peer.chain_id]
        event = _one(matching, "MessageExecuted", pointer)
        if event.src_contract != peer.gateway:
            raise PolicyDenied("the executed message is not from the peer chain's registered gateway")
        if len(event.result) > MAX_RESULT_BYTES:
            raise PolicyDenied(f"the execution result is longer than {MAX_RESULT_BYTES} bytes")
        return _facts(XKind.RECEIPT, source, peer, event), peer

    async def _evm_receipt(self, tx_hash: str) -> dict[str, Any]:
        reader = self._sources.evm
        receipt = await reader.receipt(tx_hash)
        if receipt is None or receipt.get("blockNumber") is None:
            raise PolicyDenied("the transaction is not on the source chain (as the enclave's node sees it)")
        try:
            included = int(str(receipt["blockNumber"]), 16)
        except ValueError:
            raise PolicyDenied("the EVM node's receipt has a malformed block number") from None
        _confirmed(await reader.block_number() - included + 1, self._sources.evm_confirmations)
        return receipt

    async def _n3_log(self, tx_hash: str) -> dict[str, Any]:
        reader = self._sources.n3
        log = await reader.application_log(tx_hash)
        included = await reader.transaction_height(tx_hash)
        if log is None or included is None:
            raise PolicyDenied("the transaction is not on the source chain (as the enclave's node sees it)")
        _confirmed(await reader.height() - included + 1, self._sources.n3_confirmations)
        return log


def _confirmed(confirmations: int, needed: int) -> None:
    if confirmations < needed:
        raise NodeUnavailable(f"the source transaction has {max(confirmations, 0)} of {needed} confirmations")


def _one[E: (SentEvent, ExecutedEvent)](events: list[E], name: str, pointer: SourcePointer) -> E:
    if len(events) != 1:
        raise PolicyDenied(
            f"the transaction holds no single {name} of nonce {pointer.nonce} from the registered gateway"
        )
    return events[0]


def _facts(kind: XKind, source: _Chain, dest: _Chain, event: SentEvent | ExecutedEvent) -> XFacts:
    try:
        if isinstance(event, SentEvent):
            return XFacts(
                kind,
                source.chain_id,
                dest.chain_id,
                source.gateway,
                event.nonce,
                event.sender,
                event.receiver,
                event.gas_limit,
                event.payload,
            )
        return XFacts(
            kind,
            source.chain_id,
            dest.chain_id,
            source.gateway,
            event.nonce,
            event.receiver,  # the message's receiver answers ...
            event.sender,  # ... its sender
            event.attempt,
            receipt_payload(event.ok, event.result),
        )
    except InvalidInput as exc:
        raise PolicyDenied(f"the gateway event cannot be signed: {exc}") from None
