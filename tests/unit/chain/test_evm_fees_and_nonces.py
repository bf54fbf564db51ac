"""EIP-1559 fee arithmetic and per-sender nonces of the EVM adapter (no chain)."""

from __future__ import annotations

import asyncio

import pytest

from neo_service_layer.kernel.chain.adapters.evm_fees import GWEI, FeePolicy, FeeTooHigh, eip1559_fees
from neo_service_layer.kernel.chain.adapters.evm_nonces import NonceKeeper


def test_fees_double_the_base_fee_and_bound_the_priority() -> None:
    fees = eip1559_fees(10 * GWEI, 2 * GWEI, FeePolicy())
    assert (fees.max_fee_per_gas, fees.max_priority_fee_per_gas) == (22 * GWEI, 2 * GWEI)
    bounded = FeePolicy(min_priority=GWEI, max_priority=3 * GWEI)
    assert eip1559_fees(0, 0, bounded).max_priority_fee_per_gas == GWEI
    assert eip1559_fees(0, 50 * GWEI, bounded).max_priority_fee_per_gas == 3 * GWEI


def test_the_cap_lowers_the_max_fee_or_refuses() -> None:
    capped = FeePolicy(max_fee_cap=15 * GWEI)
    assert eip1559_fees(10 * GWEI, GWEI, capped).max_fee_per_gas == 15 * GWEI  # still includable now
    with pytest.raises(FeeTooHigh):
        eip1559_fees(15 * GWEI, GWEI, capped)  # base + priority above the cap: nothing is signed


class Node:
    """The node's pending transaction count per address, and how often it was asked."""

    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.asked = 0

    async def count(self, address: str) -> int:
        self.asked += 1
        await asyncio.sleep(0)
        return self.pending


async def test_concurrent_reservations_of_one_sender_are_consecutive() -> None:
    node = Node(5)
    keeper = NonceKeeper(node.count)
    taken: list[int] = []

    async def send() -> None:
        async with keeper.reserve("0xAbC") as reservation:
            taken.append(reservation.nonce)
            await asyncio.sleep(0)
            reservation.used()

    await asyncio.gather(*(send() for _ in range(5)))
    assert taken == [5, 6, 7, 8, 9]
    async with keeper.reserve("0xabc") as reservation:  # the address in any case is one sender
        assert reservation.nonce == 10


async def test_an_unused_or_failed_reservation_gives_its_nonce_again_and_the_node_wins_when_ahead() -> None:
    node = Node(3)
    keeper = NonceKeeper(node.count)
    async with keeper.reserve("0xa") as reservation:
        assert reservation.nonce == 3  # not broadcast (refused): not used

    async def lost_answer() -> None:
        async with keeper.reserve("0xa") as lost:
            assert lost.nonce == 3
            raise ConnectionError  # unknown outcome: the next send asks the node

    with pytest.raises(ConnectionError):
        await lost_answer()
    node.pending = 4  # it had reached the node after all
    async with keeper.reserve("0xa") as reservation:
        assert reservation.nonce == 4
        reservation.used()
    node.pending = 9  # another process sent meanwhile
    async with keeper.reserve("0xa") as reservation:
        assert reservation.nonce == 9
