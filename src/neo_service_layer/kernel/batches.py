"""Deleting (or moving) rows in bounded batches: short transactions, the rest left for the next pass."""

from __future__ import annotations

from collections.abc import Awaitable, Callable


async def in_batches(step: Callable[[int], Awaitable[int]], batch: int, batches: int) -> int:
    """Call ``step(batch)`` (it handles at most ``batch`` rows and says how many) until it handles fewer
    than ``batch`` or ``batches`` calls were made; the rows handled in all."""
    total = 0
    for _ in range(batches):
        done = await step(batch)
        total += done
        if done < batch:
            break
    return total
