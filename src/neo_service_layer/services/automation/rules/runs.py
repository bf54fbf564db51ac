"""One due occurrence of an upkeep as the pipeline carries it (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

#: the pipeline's "request transaction" of an occurrence that no transaction made (time, blocks,
#: condition): the same on every read, so a block read again is recognised as the same occurrence
NO_TRANSACTION = "0x" + "00" * 32


@dataclass(frozen=True, slots=True)
class RunAsked:
    """What the fulfiller needs to perform one occurrence."""

    upkeep_id: int
    occurrence: int
    due_block: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class RunSent:
    """What was sent for an occurrence: the data passed on (its result is the contract's
    ``UpkeepPerformed``, recorded by the scheduler)."""

    data: bytes
