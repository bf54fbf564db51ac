"""EIP-1559 fees for an EVM transaction (pure arithmetic over what the node reported).

``maxFeePerGas = base_fee * base_fee_multiplier + priority``: with the default multiplier of 2 the
transaction stays includable through six consecutive full blocks (each raises the base fee by at most
12.5 %). The priority fee is the node's suggestion (``eth_maxPriorityFeePerGas``), at least
``min_priority`` and at most ``max_priority``; a fee cap (``max_fee_cap``) refuses to pay more than an
operator allows rather than sending a transaction that would.
"""

from __future__ import annotations

from dataclasses import dataclass

GWEI = 10**9


class FeeTooHigh(Exception):
    """The fee the network asks for is above the configured cap; nothing is sent."""


@dataclass(frozen=True, slots=True)
class FeePolicy:
    base_fee_multiplier: int = 2
    min_priority: int = 0
    max_priority: int = 100 * GWEI
    #: the highest ``maxFeePerGas`` ever signed (wei per gas); None: no cap
    max_fee_cap: int | None = None


@dataclass(frozen=True, slots=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def eip1559_fees(base_fee: int, suggested_priority: int, policy: FeePolicy) -> Fees:
    """The two fee fields of a type-2 transaction.

    Raises:
        FeeTooHigh: ``maxFeePerGas`` would exceed ``policy.max_fee_cap``.
    """
    priority = min(max(suggested_priority, policy.min_priority), policy.max_priority)
    max_fee = base_fee * policy.base_fee_multiplier + priority
    if policy.max_fee_cap is not None and max_fee > policy.max_fee_cap:
        if base_fee + priority > policy.max_fee_cap:
            raise FeeTooHigh(f"the network asks {base_fee + priority} wei per gas, above the cap")
        max_fee = policy.max_fee_cap
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=priority)
