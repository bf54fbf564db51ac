"""Limits held in Redis hold across replicas: two app instances share one budget."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.adapters.rate_limits import LimitsRateLimiter
from tests.http.appclient import app_client
from tests.integration.identity.conftest import FAST_HASHING

pytestmark = pytest.mark.redis


async def test_two_limiters_share_counts(redis_url: str) -> None:
    namespace = f"nsl-test-{uuid.uuid4().hex}"
    first = LimitsRateLimiter.redis(redis_url, namespace=namespace)
    second = LimitsRateLimiter.redis(redis_url, namespace=namespace)
    try:
        decisions = [
            await (first if i % 2 else second).hit("4/minute", "general", "ip", "192.0.2.1") for i in range(5)
        ]
    finally:
        await first.aclose()
        await second.aclose()
    assert [d.allowed for d in decisions] == [True, True, True, True, False]
    assert [d.remaining for d in decisions] == [3, 2, 1, 0, 0]


async def test_an_unreachable_redis_allows_and_does_not_hang() -> None:
    limiter = LimitsRateLimiter.redis("redis://127.0.0.1:1/0", namespace="nowhere")
    try:
        decision = await limiter.hit("1/minute", "general", "ip", "192.0.2.1")
    finally:
        await limiter.aclose()
    assert decision.allowed


async def test_two_app_instances_enforce_one_limit(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    namespace = f"nsl-test-{uuid.uuid4().hex}"
    limits = {"general": "4/minute", "key_management": "100/minute", "auth": "100/minute"}
    apps = [
        create_app(
            make_settings(
                data_dir=tmp_path_factory.mktemp(f"replica{i}"),
                redis_url=redis_url,
                rate_limit_namespace=namespace,
                rate_limits_per_ip=limits,
                **FAST_HASHING,
            ),
            migrate=True,
        )
        for i in range(2)
    ]
    async with AsyncExitStack() as stack:
        clients: list[httpx.AsyncClient] = [await stack.enter_async_context(app_client(app)) for app in apps]
        statuses = []
        for i in range(6):
            response = await clients[i % 2].get("/.well-known/jwks.json")
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 200, 429, 429]
        assert response.headers["ratelimit-limit"] == "4"
        assert int(response.headers["retry-after"]) >= 1
