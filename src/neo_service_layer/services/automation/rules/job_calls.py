"""A tenant job's contract call, one run: what each step's result makes of it. Standard library only.

A run's transaction is recorded before it is sent (so a worker killed after sending leaves it to the
next one, which finds it on chain or sends the same bytes again) and a new transaction is built only
once the recorded one can no longer be included (its ``validUntilBlock`` passed): two transactions of
one run are never valid at the same time, so a run lands at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: a run is tried at most this many times (a dry run that faults, a transaction that faulted or expired)
MAX_CALL_ATTEMPTS = 3
#: seconds before a faulting dry run or a rejected send is tried again, after the n-th attempt
CALL_BACKOFF_SECONDS = (5, 30)
#: seconds between looks at a sent transaction that is not in a block yet
CHECK_AFTER_SECONDS = 2


class CallState(StrEnum):
    SENT = "sent"  # a transaction is recorded and was sent; looked at again at ``retry_at``
    LANDED = "landed"  # in a block and HALTed: the run is delivered
    RETRY = "retry"  # tried again at ``retry_at``
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SentTx:
    """A run's signed transaction as the outbox keeps it."""

    tx_hash: str
    raw: bytes = field(repr=False)
    valid_until: int


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one look at a run found: its next state, why, and what is known on chain.

    ``attempted`` says whether this look used one of the run's attempts (a fresh dry run or
    transaction); looking at a sent transaction again does not.
    """

    state: CallState
    reason: str | None = None
    retry_at: int | None = None
    tx: SentTx | None = None
    block: int | None = None
    gas_used: int | None = None
    attempted: bool = True


def retry_or_fail(reason: str, attempt: int, now: int, tx: SentTx | None = None) -> CallResult:
    """Try again after the backoff while attempts are left; then fail, saying how often it was tried."""
    if attempt < MAX_CALL_ATTEMPTS:
        wait = CALL_BACKOFF_SECONDS[min(attempt, len(CALL_BACKOFF_SECONDS)) - 1]
        return CallResult(CallState.RETRY, reason, now + wait, tx)
    return CallResult(CallState.FAILED, f"{reason} (gave up after {attempt} attempts)", tx=tx)


def fee_over_bound(needed: int, bound: int) -> str | None:
    """Why a run that would burn ``needed`` GAS fractions is not sent, if over the job's ``bound``."""
    if needed <= bound:
        return None
    return (
        f"gas limit: the call needs {needed} GAS fractions, the job allows {bound} (maxSystemFee); "
        "raise it or make the call cheaper"
    )


def balance_short(balance: int, needed: int, account: str) -> str | None:
    """Why a run is not sent when the paying account cannot cover its fees."""
    if balance >= needed:
        return None
    return (
        f"balance too low: the job key's account {account} has {balance} GAS fractions, "
        f"the run needs {needed}; send GAS to it"
    )


#: the share added to a dry run's GAS for the transaction's system fee (state can move between the two)
SYSTEM_FEE_MARGIN = 0.01


def system_fee(gas_consumed: int) -> int:
    """The system fee a run's transaction carries for a dry run that burnt ``gas_consumed``."""
    return gas_consumed + int(gas_consumed * SYSTEM_FEE_MARGIN)


#: what a run's network fee is taken to be when estimating runs left (a single-signature transaction
#: pays about 0.0012 GAS on N3 with the default fee per byte; this leaves room)
NETWORK_FEE_ESTIMATE = 2 * 10**6
#: fewer runs left than this is a low balance (as for upkeeps)
LOW_BALANCE_RUNS = 10


@dataclass(frozen=True, slots=True)
class Funding:
    """How long the job key's account can pay: its GAS, a run's cost, the runs left, and a warning."""

    balance: int
    per_run: int
    runs_left: int
    low: bool


def funding(balance: int, gas_used: list[int], max_system_fee: int) -> Funding:
    """Runs left at the dearest recent run's GAS (``max_system_fee`` before any run landed)."""
    per_run = system_fee(max(gas_used)) if gas_used else max_system_fee
    per_run += NETWORK_FEE_ESTIMATE
    runs_left = max(balance, 0) // per_run
    return Funding(balance, per_run, runs_left, runs_left < LOW_BALANCE_RUNS)
