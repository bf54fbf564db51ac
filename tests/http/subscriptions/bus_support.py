"""RabbitMQ for the bus tests: ``NSL_TEST_RABBITMQ_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``);
a broker that does not answer skips them locally and fails them when ``CI=true`` and the variable is
set. Each test gets its own queue, deleted afterwards.

The 10,000-event test restarts the broker, which cuts every client of it: a test holds the broker
(a file lock of the machine, so across pytest-xdist's processes and concurrent runs) while it uses it."""

from __future__ import annotations

import asyncio
import fcntl
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from tests.conftest import IN_CI

RABBITMQ_ENV = "NSL_TEST_RABBITMQ_URL"
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
async def rabbitmq_url() -> AsyncIterator[str]:
    with (Path(tempfile.gettempdir()) / "nsl-test-rabbitmq.lock").open("w") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)  # held until the test is over
        url = os.environ.get(RABBITMQ_ENV) or DEFAULT_RABBITMQ_URL
        try:
            async with asyncio.timeout(5):
                connection = await aio_pika.connect(url)
                await connection.close()
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            if IN_CI and os.environ.get(RABBITMQ_ENV):
                pytest.fail(f"RabbitMQ at {RABBITMQ_ENV} is unreachable: {type(exc).__name__}")
            pytest.skip(f"RabbitMQ unreachable ({type(exc).__name__}); set {RABBITMQ_ENV}")
        yield url


@pytest.fixture
async def bus_queue(rabbitmq_url: str) -> AsyncIterator[str]:
    name = f"nsl-test-{uuid.uuid4().hex[:12]}"
    yield name
    connection = await aio_pika.connect(rabbitmq_url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(name)
    finally:
        await connection.close()


async def queued(url: str, queue: str) -> int:
    """Messages ready in ``queue`` (not counting unacknowledged ones)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()
