"""RPC failover and health tracking, against fake endpoints that record calls and fail on demand."""

from __future__ import annotations

import pytest
from neo3.api import noderpc

from neo_service_layer.kernel.chain.adapters.rpc import RpcPool
from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable


class FakeEndpoint:
    """Answers ``height`` with its own number; raises ``failure`` while one is set."""

    def __init__(self, name: str, height: int) -> None:
        self.name = name
        self._height = height
        self.failure: BaseException | None = None
        self.calls: list[str] = []

    async def height(self) -> int:
        self.calls.append("height")
        if self.failure is not None:
            raise self.failure
        return self._height


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pool_of(*endpoints: FakeEndpoint, clock: FakeClock | None = None) -> RpcPool[FakeEndpoint]:
    return RpcPool(
        [(e.name, e) for e in endpoints], base_backoff=1.0, max_backoff=8.0, clock=clock or FakeClock()
    )


async def test_uses_the_first_endpoint_while_it_answers() -> None:
    a, b = FakeEndpoint("a", 1), FakeEndpoint("b", 2)
    pool = pool_of(a, b)
    assert [await pool.call(lambda e: e.height()) for _ in range(3)] == [1, 1, 1]
    assert (len(a.calls), len(b.calls)) == (3, 0)
    assert all(h.healthy for h in pool.health)


async def test_fails_over_on_transport_errors_and_tracks_health() -> None:
    a, b = FakeEndpoint("a", 1), FakeEndpoint("b", 2)
    pool = pool_of(a, b)
    a.failure = ConnectionRefusedError("down")
    assert await pool.call(lambda e: e.height()) == 2
    health_a, health_b = pool.health
    assert (health_a.healthy, health_a.consecutive_failures, health_a.failures) == (False, 1, 1)
    assert "ConnectionRefusedError" in health_a.last_error
    assert health_b.healthy
    assert health_b.last_ok is not None
    assert pool.current_url == "b"
    # sticky: the next call goes straight to b, the failed endpoint is not retried during its back-off
    assert await pool.call(lambda e: e.height()) == 2
    assert len(a.calls) == 1


async def test_timeouts_fail_over_too() -> None:
    a, b = FakeEndpoint("a", 1), FakeEndpoint("b", 2)
    a.failure = TimeoutError()
    assert await pool_of(a, b).call(lambda e: e.height()) == 2


async def test_json_rpc_errors_are_answers_not_failures() -> None:
    a, b = FakeEndpoint("a", 1), FakeEndpoint("b", 2)
    pool = pool_of(a, b)
    a.failure = noderpc.JsonRpcError(-100, "Unknown transaction")
    with pytest.raises(noderpc.JsonRpcError):
        await pool.call(lambda e: e.height())
    assert b.calls == []
    assert pool.health[0].healthy


async def test_back_off_doubles_and_all_down_raises_unavailable() -> None:
    clock = FakeClock()
    a, b = FakeEndpoint("a", 1), FakeEndpoint("b", 2)
    pool = pool_of(a, b, clock=clock)
    a.failure = b.failure = OSError("unreachable")
    with pytest.raises(ChainUnavailable, match="no Neo RPC endpoint answered"):
        await pool.call(lambda e: e.height())
    assert [h.down_until - clock.now for h in pool.health] == [1.0, 1.0]
    with pytest.raises(ChainUnavailable):
        await pool.call(lambda e: e.height())
    assert [h.down_until - clock.now for h in pool.health] == [2.0, 2.0]
    for _ in range(5):
        with pytest.raises(ChainUnavailable):
            await pool.call(lambda e: e.height())
    assert pool.health[0].down_until - clock.now == 8.0  # capped


async def test_a_recovered_endpoint_is_found_even_during_its_back_off() -> None:
    clock = FakeClock()
    a, b = FakeEndpoint("a", 1), FakeEndpoint("b", 2)
    pool = pool_of(a, b, clock=clock)
    a.failure = b.failure = OSError("unreachable")
    with pytest.raises(ChainUnavailable):
        await pool.call(lambda e: e.height())
    b.failure = None  # b is back; both are still in back-off
    assert await pool.call(lambda e: e.height()) == 2
    assert pool.health[1].healthy
    assert pool.health[1].consecutive_failures == 0


async def test_prefers_endpoints_out_of_back_off() -> None:
    clock = FakeClock()
    a, b, c = FakeEndpoint("a", 1), FakeEndpoint("b", 2), FakeEndpoint("c", 3)
    pool = pool_of(a, b, c, clock=clock)
    a.failure = OSError("a down")
    assert await pool.call(lambda e: e.height()) == 2
    b.failure = OSError("b down")
    assert await pool.call(lambda e: e.height()) == 3  # c before a, which is still backing off
    assert len(a.calls) == 1
    clock.now += 1.5  # a's back-off is over
    a.failure = None
    c.failure = OSError("c down")
    assert await pool.call(lambda e: e.height()) == 1


def test_needs_an_endpoint() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RpcPool([])


async def test_an_endpoint_down_for_thousands_of_calls_keeps_the_capped_back_off() -> None:
    """Found by the cross-chain chaos test: after ~1,000 failed calls the doubling overflowed a float and
    every job of that chain failed with ``OverflowError`` instead of ``ChainUnavailable``."""
    a = FakeEndpoint("a", 1)
    a.failure = OSError("connection refused")
    clock = FakeClock()
    pool = pool_of(a, clock=clock)
    for _ in range(2_000):
        clock.now += 100.0  # past any back-off: every call tries the endpoint again
        with pytest.raises(ChainUnavailable):
            await pool.call(lambda e: e.height())
    [health] = pool.health
    assert health.consecutive_failures == 2_000
    assert health.down_until == clock.now + 8.0  # the cap
    a.failure = None
    clock.now += 100.0
    assert await pool.call(lambda e: e.height()) == 1
