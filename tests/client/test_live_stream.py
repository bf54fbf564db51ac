"""A subscription's event stream from the live server: the events its keys' lifecycle produces (written
with their audit entries), resumed with ``Last-Event-ID`` after a disconnect without losing one, a stream
opened without it starting after the newest event, and a deleted subscription ending the stream with
the client's usual problem error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import aclosing, closing, suppress
from typing import Any

import pytest

from nsl_client import AsyncClient, Client, NotFound, ValidationFailed
from nsl_client.models import StreamEvent
from tests.client.live import Live

KEY_EVENTS = {"types": ["key.*"]}
STREAM = {"stream": {}}


def within[T](seconds: float, work: Callable[[], T]) -> T:
    """``work()`` in a thread, failing the test (not hanging it) if it takes longer than ``seconds``."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds} s"
    if failure:
        raise failure[0]
    return result[0]


def _until(stream: Any, target: str) -> StreamEvent:
    """The stream's first event about ``target``."""
    for event in stream:
        if event.data.get("target") == target:
            return event
    raise AssertionError("the stream ended")


def test_events_come_as_they_were_written_and_resume_after_the_last_one_seen(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        sub = client.create_subscription("key events", KEY_EVENTS, STREAM).subscription
        first = client.create_key("secp256r1", "streamed-1", ["message"])
        # from the start of the tenant's events: the key made above is among them
        with closing(client.stream_events(sub.subscription_id, last_event_id=0)) as stream:
            created = within(30, lambda: _until(stream, f"key:{first.key_id}"))
        assert (created.type, created.subscription) == ("key.created", sub.subscription_id)
        assert created.data["action"] == "key.create"
        audit = client.audit_log(action="key.create", limit=200).entries
        assert created.data["auditSeq"] in {e.seq for e in audit if e.target == f"key:{first.key_id}"}

        # while no one listens: a key made and rotated; resuming after the event seen gets both, in order
        second = client.create_key("secp256r1", "streamed-2", ["message"])
        client.rotate_key(second.key_id)
        with closing(client.stream_events(sub.subscription_id, last_event_id=created.id)) as stream:
            later = within(30, lambda: [next(stream), next(stream)])
        assert [(e.type, e.data["target"]) for e in later] == [
            ("key.created", f"key:{second.key_id}"),
            ("key.rotated", f"key:{second.key_id}"),
        ]
        assert created.id < later[0].id < later[1].id
        client.delete_subscription(sub.subscription_id)


def test_an_unknown_or_malformed_subscription_raises_before_the_stream(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        with pytest.raises(NotFound) as missing:
            next(client.stream_events("sub_" + "0" * 24))
        assert missing.value.correlation_id
        with pytest.raises(ValidationFailed):
            next(client.stream_events("not-a-subscription"))


async def test_the_async_stream_starts_after_the_newest_event_and_ends_when_the_subscription_goes(
    live: Live,
) -> None:
    async with AsyncClient(live.base_url, api_key=live.api_key) as client:
        sub = (await client.create_subscription("async key events", KEY_EVENTS, STREAM)).subscription
        before = await client.create_key("secp256r1", "before-the-stream", ["message"])
        made: list[str] = []

        async def make_keys() -> None:
            # the stream's starting point is fixed once it opened: keep making keys until one arrives
            while True:
                made.append(f"key:{(await client.create_key('secp256r1', 'during', ['message'])).key_id}")
                await asyncio.sleep(0.3)

        async with aclosing(client.stream_events(sub.subscription_id)) as stream, asyncio.timeout(60):
            maker = asyncio.create_task(make_keys())
            try:
                event = await anext(stream)
            finally:
                maker.cancel()
                with suppress(asyncio.CancelledError):
                    await maker
        assert event.type == "key.created"
        assert event.data["target"] in made
        assert event.data["target"] != f"key:{before.key_id}"  # made before the stream opened

        async with aclosing(client.stream_events(sub.subscription_id, last_event_id=event.id)) as stream:

            async def drain() -> None:
                async with asyncio.timeout(60):
                    async for _ in stream:
                        pass

            await client.delete_subscription(sub.subscription_id)
            with pytest.raises(NotFound):  # the server ends the stream; resuming finds no subscription
                await drain()
