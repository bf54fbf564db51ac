"""Kept-alive webhook connections (``PinnedSessions``) behind the SSRF guard, against real loopback
servers: a connection is kept between posts to one origin, but only while the host's fresh check
answers the address it was opened to; a refused answer is refused even with a connection open."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from neo_service_layer.services.secrets.adapters import pinned_sessions
from neo_service_layer.services.secrets.adapters.pinned_sessions import PinnedSessions
from neo_service_layer.services.secrets.adapters.url_guard import InvalidSourceAddress, SourceUrlPolicy

FIRST, SECOND, THIRD, REFUSED = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.1"
POLICY = SourceUrlPolicy.of([FIRST, SECOND, THIRD], allow_http=True)
TIMEOUT = aiohttp.ClientTimeout(total=5)


@dataclass
class Servers:
    """One port on every address above; each request as (server address, client port)."""

    port: int = 0
    seen: list[tuple[str, int]] = field(default_factory=list)
    cookies: list[str | None] = field(default_factory=list)


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    state = Servers()

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        local = request.transport.get_extra_info("sockname") if request.transport else None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        assert local is not None
        assert peer is not None
        state.seen.append((str(local[0]), int(peer[1])))
        state.cookies.append(request.headers.get("Cookie"))
        if request.path == "/set-cookie":
            response = web.Response(status=204)
            response.set_cookie("session", "tenant-a", path="/")
            return response
        if request.path == "/large":
            return web.Response(body=b"x" * (1024 * 1024))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    sites = []
    for address in (FIRST, SECOND, THIRD, REFUSED):
        site = web.TCPSite(runner, address, state.port)
        await site.start()
        state.port = state.port or site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sites.append(site)
    try:
        yield state
    finally:
        await runner.cleanup()


class Answers:
    """A resolver answering from a list, one answer per call (the last one repeated)."""

    def __init__(self, *answers: str) -> None:
        self._answers = list(answers)
        self.calls = 0

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls += 1
        return [self._answers[min(self.calls, len(self._answers)) - 1]]


async def _post(sessions: PinnedSessions, url: str) -> int:
    async with sessions.post(url, b"{}", {"Content-Type": "application/json"}) as response:
        await response.content.read(64 * 1024)
        return response.status


async def test_posts_to_one_origin_share_one_kept_connection(servers: Servers) -> None:
    sessions = PinnedSessions(POLICY, field="url", timeout=TIMEOUT, resolve=Answers(FIRST))
    try:
        for _ in range(5):
            assert await _post(sessions, f"http://hooks.test:{servers.port}/ok") == 204
    finally:
        await sessions.aclose()
    assert [address for address, _ in servers.seen] == [FIRST] * 5
    assert len({client for _, client in servers.seen}) == 1  # one connection, not five
    assert sessions.open_sessions == 0


async def test_a_new_answer_gets_a_new_connection_and_a_refused_one_is_refused(servers: Servers) -> None:
    resolver = Answers(FIRST, REFUSED, SECOND)
    sessions = PinnedSessions(POLICY, field="url", timeout=TIMEOUT, resolve=resolver)
    url = f"http://hooks.test:{servers.port}/ok"
    try:
        assert await _post(sessions, url) == 204
        with pytest.raises(InvalidSourceAddress):  # checked again: the open connection is not used
            await _post(sessions, url)
        assert await _post(sessions, url) == 204  # now SECOND: not the connection kept to FIRST
    finally:
        await sessions.aclose()
    assert resolver.calls == 3
    assert [address for address, _ in servers.seen] == [FIRST, SECOND]


async def test_an_answer_not_read_to_its_end_closes_its_connection(servers: Servers) -> None:
    sessions = PinnedSessions(POLICY, field="url", timeout=TIMEOUT, resolve=Answers(FIRST))
    base = f"http://hooks.test:{servers.port}"
    try:
        assert await _post(sessions, f"{base}/large") == 200  # 64 KiB of 1 MiB read
        assert await _post(sessions, f"{base}/ok") == 204
        assert await _post(sessions, f"{base}/ok") == 204
    finally:
        await sessions.aclose()
    clients = [client for _, client in servers.seen]
    assert clients[0] != clients[1]  # the rest of the large answer was never read as the next one
    assert clients[1] == clients[2]


async def test_the_least_recently_used_origin_is_closed_past_the_bound(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pinned_sessions, "MAX_ORIGINS", 2)
    sessions = PinnedSessions(POLICY, field="url", timeout=TIMEOUT)
    try:
        for address in (FIRST, SECOND, FIRST, THIRD, SECOND):  # THIRD evicts SECOND, SECOND then FIRST
            assert await _post(sessions, f"http://{address}:{servers.port}/ok") == 204
            assert sessions.open_sessions <= 2
    finally:
        await sessions.aclose()
    assert sessions.open_sessions == 0
    clients = {a: [c for address, c in servers.seen if address == a] for a in (FIRST, SECOND)}
    assert clients[FIRST][0] == clients[FIRST][1]  # used again before the bound was reached: kept
    assert clients[SECOND][0] != clients[SECOND][1]  # evicted in between: a new connection


async def test_a_cookie_an_endpoint_sets_is_never_sent_back(servers: Servers) -> None:
    # one session serves every post to an origin, whichever tenant's subscription it is for: a cookie
    # kept from one answer would go out with the next post, perhaps another tenant's
    sessions = PinnedSessions(POLICY, field="url", timeout=TIMEOUT, resolve=Answers(FIRST))
    try:
        assert await _post(sessions, f"http://hooks.test:{servers.port}/set-cookie") == 204
        assert await _post(sessions, f"http://hooks.test:{servers.port}/ok") == 204
    finally:
        await sessions.aclose()
    assert len({client for _, client in servers.seen}) == 1  # the same kept session both times
    assert servers.cookies == [None, None]
