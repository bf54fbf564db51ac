"""What the API shows of the chain's height is read at most once per block time (1 s at most)."""

from __future__ import annotations

from typing import Any

from neo_service_layer.kernel.cache.adapters.memory import MemoryCache
from neo_service_layer.kernel.chain.parts import ChainKernel


class CountingChain:
    """A chain whose height grows by one at every read, counting the reads."""

    def __init__(self) -> None:
        self.reads = 0

    async def height(self) -> int:
        self.reads += 1
        return 100 + self.reads


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _kernel(chain: CountingChain, cache: MemoryCache[int] | None) -> ChainKernel:
    unused: Any = None
    return ChainKernel(unused, unused, chain, unused, unused, None, unused, unused, cache)  # type: ignore[arg-type]


async def test_the_height_is_read_once_per_ttl() -> None:
    chain, clock = CountingChain(), Clock()
    kernel = _kernel(chain, MemoryCache[int]("chain_height", ttl_seconds=1.0, max_entries=1, monotonic=clock))
    assert [await kernel.recent_height() for _ in range(5)] == [101] * 5
    assert chain.reads == 1
    clock.now = 1.0  # a block time later: read again
    assert await kernel.recent_height() == 102
    assert chain.reads == 2


async def test_without_a_cache_every_call_reads_the_chain() -> None:
    chain = CountingChain()
    kernel = _kernel(chain, None)
    assert [await kernel.recent_height() for _ in range(3)] == [101, 102, 103]
