"""The ``Chain`` port: what the on-chain services need from a Neo N3 network.

Services describe contract calls as data (:class:`ContractCall`), dry-run them, have them built into a
signed transaction (the adapter signs through the enclave) and hand the raw bytes back for sending, so
that the transaction can sit in the outbox between signing and sending. Stack items and event values are
decoded to plain Python: ``int``, ``bytes``, ``bool``, ``None``, ``str`` (never produced for byte strings)
and tuples for arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

from neo_service_layer.enclave.wire.errors import DependencyUnavailable

#: a contract script hash as ``0x`` + 40 hex characters (big-endian, as RPC nodes show it)
ContractHash: TypeAlias = str
#: a transaction or block hash as ``0x`` + 64 hex characters
Hash256: TypeAlias = str
Arg: TypeAlias = int | bytes | str | bool | None


class ChainUnavailable(DependencyUnavailable):
    """No configured RPC endpoint answered."""


class ChainNotConfigured(DependencyUnavailable):
    """This process has no Neo network configured (no RPC URL or no contract hash)."""


@dataclass(frozen=True, slots=True)
class ContractCall:
    contract: ContractHash
    method: str
    args: tuple[Arg, ...] = ()


#: the VM state of an execution that completed; every other state (``FAULT``...) rolled its effects back
HALT = "HALT"


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """One notification, with the VM state of the execution that emitted it.

    A transaction that FAULTs still lists the notifications it emitted before the fault in its
    application log, but its state changes were rolled back: such an event never happened for the
    contract (a request id in it is handed out again by the next request). ``vmstate`` says which;
    the watcher acts only on ``HALT`` events.
    """

    block: int
    tx_hash: Hash256
    contract: ContractHash
    name: str
    values: tuple[Any, ...]
    vmstate: str = HALT
    #: an EVM log's index in its block (``None`` on N3)
    log_index: int | None = None

    @property
    def halted(self) -> bool:
        return self.vmstate == HALT


@dataclass(frozen=True, slots=True)
class BlockEvents:
    index: int
    #: block timestamp; ``None`` when the block carries no matching event (not fetched)
    time: datetime | None
    events: tuple[ChainEvent, ...]
    #: the block's hash, when the chain tells it (the watcher notices a block made again with it)
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class DryRun:
    """Result of a test invocation with the service's sender as signer."""

    halted: bool
    gas_consumed: int
    exception: str | None
    stack: tuple[Any, ...] = ()
    events: tuple[ChainEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    tx_hash: Hash256
    raw: bytes = field(repr=False)
    valid_until_block: int
    system_fee: int
    network_fee: int


class SendOutcome(StrEnum):
    ACCEPTED = "accepted"
    #: the node already has it (mempool or chain): sending again is harmless
    KNOWN = "known"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TransactionState:
    """Where a sent transaction is: ``block`` is ``None`` while not included."""

    block: int | None
    halted: bool | None = None
    exception: str | None = None
    #: GAS fractions the execution burnt, when the node tells it
    gas_consumed: int | None = None


class BlockSource(Protocol):
    """What the watcher reads: the head and one contract's events per block (Neo N3 or an EVM chain)."""

    async def height(self) -> int:
        """Index of the newest block the watcher may apply (an EVM source counts confirmations)."""
        ...

    async def block_events(self, index: int, contract: ContractHash) -> BlockEvents:
        """Notifications of ``contract`` in block ``index``, each with its execution's ``vmstate``.

        An adapter may leave out notifications of executions that did not HALT (neo-go's
        ``getblocknotifications`` does; an EVM chain keeps no logs of a reverted transaction); when it
        returns them they carry their state and the watcher drops them.
        """
        ...


class Chain(BlockSource, Protocol):
    """A Neo N3 network reached through RPC, with the service's sender account (keys in the enclave)."""

    @property
    def magic(self) -> int: ...

    @property
    def sender(self) -> str:
        """Address of the account that signs and pays for the service's transactions."""
        ...

    async def dry_run(self, calls: Sequence[ContractCall]) -> DryRun:
        """Test-invoke ``calls`` as one script, with the sender as signer."""
        ...

    async def build_transaction(self, calls: Sequence[ContractCall], dry_run: DryRun) -> SignedTransaction:
        """A signed transaction for ``calls``: fresh nonce, fees from the dry-run, ``validUntilBlock`` set.

        Raises:
            ValueError: ``dry_run`` did not halt (a faulting script is never built).
        """
        ...

    async def send(self, raw: bytes) -> SendResult: ...

    async def transaction_state(self, tx_hash: Hash256) -> TransactionState: ...

    async def gas_balance(self, account: str | None = None) -> int:
        """GAS (in 10^-8 units) of ``account`` (an address or script hash), the sender by default."""
        ...

    async def read(self, call: ContractCall) -> tuple[Any, ...]:
        """Test-invoke a read-only call and return its stack; ``ChainCallFaulted`` on FAULT."""
        ...


class ChainCallFaulted(Exception):
    """A read-only call faulted; ``reason`` is the VM's exception."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChainObserver(Protocol):
    """Where the chain services report what they did (Prometheus in production, a recorder in tests)."""

    def blocks_behind(self, service: str, blocks: int) -> None: ...

    def request_outcome(self, service: str, outcome: str) -> None: ...

    def fulfilment_latency(self, service: str, blocks: int, seconds: float | None) -> None: ...

    def transaction_outcome(self, service: str, outcome: str) -> None: ...

    def events_dropped(self, service: str, reason: str, count: int) -> None:
        """``count`` events the watcher ignored (``reason``: ``not_halted``)."""
        ...


class NullObserver:
    """Reports nowhere."""

    def blocks_behind(self, service: str, blocks: int) -> None:
        return None

    def request_outcome(self, service: str, outcome: str) -> None:
        return None

    def fulfilment_latency(self, service: str, blocks: int, seconds: float | None) -> None:
        return None

    def transaction_outcome(self, service: str, outcome: str) -> None:
        return None

    def events_dropped(self, service: str, reason: str, count: int) -> None:
        return None
