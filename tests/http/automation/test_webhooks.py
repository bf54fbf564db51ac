"""The webhook sender against a real receiver on 127.0.0.1: the SSRF guard (the oracle's allowance or
nothing), no redirects followed, a bounded wait, and only the status of a large answer read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from neo_service_layer.services.automation.adapters.webhooks import GuardedWebhooks
from neo_service_layer.services.secrets.api import InvalidSourceAddress, SourceUrlPolicy

LOCAL = SourceUrlPolicy.of(["127.0.0.1"], allow_http=True)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        if request.path == "/redirect":
            raise web.HTTPFound("/target")
        if request.path == "/slow":
            await asyncio.sleep(5)
        if request.path == "/large":
            return web.Response(body=b"x" * (4 * 1024 * 1024))
        return web.Response(status=200 if request.path == "/ok" else 500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


async def test_local_receivers_only_with_the_operators_allowance(receiver: tuple[str, list[str]]) -> None:
    base, hits = receiver
    async with contextlib.aclosing(GuardedWebhooks(LOCAL)) as local:
        assert (await local.post(f"{base}/ok", b"{}", {})).ok
        for url in (
            "https://10.1.2.3/h",
            "https://169.254.169.254/",
            "https://[::1]/h",
            "https://2130706433/h",
        ):
            with pytest.raises(InvalidSourceAddress):
                await local.check(url)
    for policy in (
        SourceUrlPolicy(),
        SourceUrlPolicy.of(["127.0.0.1"]),
        SourceUrlPolicy.of([], allow_http=True),
    ):
        async with contextlib.aclosing(GuardedWebhooks(policy)) as refusing:
            refused = await refusing.post(f"{base}/ok", b"{}", {})
            assert refused.http_status is None
            assert refused.error is not None
            assert refused.error.startswith("refused by the SSRF guard")
            assert not refused.retryable
            with pytest.raises(InvalidSourceAddress):
                await refusing.check(f"{base}/ok")
    assert hits == ["/ok"]


async def test_redirects_timeouts_and_large_answers(receiver: tuple[str, list[str]]) -> None:
    base, hits = receiver
    async with contextlib.aclosing(GuardedWebhooks(LOCAL)) as local:
        moved = await local.post(f"{base}/redirect", b"{}", {})
        assert moved.http_status == 302
        assert not moved.ok
        assert not moved.retryable
        assert hits == ["/redirect"]  # the target was never asked
        assert (await local.post(f"{base}/large", b"{}", {})).ok
        failing = await local.post(f"{base}/boom", b"{}", {})  # on a new connection: the large answer
        assert failing.http_status == 500  # was not read to its end
        assert failing.retryable
    async with contextlib.aclosing(GuardedWebhooks(LOCAL, timeout=0.3)) as impatient:
        slow = await impatient.post(f"{base}/slow", b"{}", {})
        assert slow.http_status is None
        assert slow.retryable
        assert slow.error == "no answer within 0.3 s"
        assert (await impatient.post(f"{base}/ok", b"{}", {})).ok  # after a timeout, a new connection
