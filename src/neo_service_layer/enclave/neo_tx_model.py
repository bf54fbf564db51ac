"""The Neo N3 transaction as data: signers, attributes, witnesses (standard library only).

``neo_tx`` reads and writes these; see there for the wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

MAX_TRANSACTION_SIZE = 102_400
MAX_ATTRIBUTES = 16  # signers + attributes together
MAX_SCRIPT = 65_535
MAX_WITNESS_SCRIPT = 1024
MAX_ORACLE_RESULT = 0xFFFF


class WitnessScope(IntFlag):
    """Where a signer's witness counts (``CheckWitness``)."""

    NONE = 0x00
    CALLED_BY_ENTRY = 0x01
    CUSTOM_CONTRACTS = 0x10
    CUSTOM_GROUPS = 0x20
    WITNESS_RULES = 0x40
    GLOBAL = 0x80


class OracleResponseCode(IntEnum):
    SUCCESS = 0x00
    PROTOCOL_NOT_SUPPORTED = 0x10
    CONSENSUS_UNREACHABLE = 0x12
    NOT_FOUND = 0x14
    TIMEOUT = 0x16
    FORBIDDEN = 0x18
    RESPONSE_TOO_LARGE = 0x1A
    INSUFFICIENT_FUNDS = 0x1C
    CONTENT_TYPE_NOT_SUPPORTED = 0x1F
    ERROR = 0xFF


@dataclass(frozen=True, slots=True)
class Signer:
    """A signer: ``account`` is the 20-byte script hash as serialized (little-endian ``UInt160``).

    ``rules`` keeps each witness rule's serialized bytes (action and condition), checked for shape only.
    """

    account: bytes
    scopes: WitnessScope = WitnessScope.CALLED_BY_ENTRY
    allowed_contracts: tuple[bytes, ...] = ()
    allowed_groups: tuple[bytes, ...] = ()
    rules: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class HighPriorityAttribute:
    TYPE = 0x01


@dataclass(frozen=True, slots=True)
class OracleResponseAttribute:
    """The native Oracle's answer to request ``id``; ``result`` must be empty unless ``code`` is SUCCESS."""

    TYPE = 0x11
    id: int
    code: OracleResponseCode
    result: bytes


@dataclass(frozen=True, slots=True)
class NotValidBeforeAttribute:
    TYPE = 0x20
    height: int


@dataclass(frozen=True, slots=True)
class ConflictsAttribute:
    TYPE = 0x21
    hash: bytes  # 32 bytes, as serialized


@dataclass(frozen=True, slots=True)
class NotaryAssistedAttribute:
    TYPE = 0x22
    n_keys: int


Attribute = (
    HighPriorityAttribute
    | OracleResponseAttribute
    | NotValidBeforeAttribute
    | ConflictsAttribute
    | NotaryAssistedAttribute
)


@dataclass(frozen=True, slots=True)
class Witness:
    invocation: bytes
    verification: bytes


@dataclass(frozen=True, slots=True)
class Transaction:
    """A Neo N3 transaction; ``witnesses`` is empty for an unsigned one."""

    nonce: int
    system_fee: int
    network_fee: int
    valid_until_block: int
    signers: tuple[Signer, ...]
    script: bytes
    attributes: tuple[Attribute, ...] = ()
    witnesses: tuple[Witness, ...] = field(default=())
    version: int = 0

    @property
    def sender(self) -> bytes:
        """The first signer's account: the one who pays the fees."""
        return self.signers[0].account
