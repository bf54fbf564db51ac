"""Reading a subscription's event stream against a scripted loopback server, so each framing (comments,
multi-line data, ``retry:``, CRLF), ending and drop comes exactly when the test says: events are parsed
as the server frames them, a connection that ends or breaks is resumed with ``Last-Event-ID``, resuming
is bounded, and problems before the stream starts raise the client's usual errors. Waits are recorded
by the client's ``sleep``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from nsl_client import AsyncClient, Client, NotFound, RetryPolicy, ValidationFailed
from nsl_client.models import StreamEvent
from nsl_client.ops import events
from nsl_client.stream import EventStreamParser
from tests.client.scripted_server import DROP, Answer, ScriptedServer, scripted_server

SUB = "sub_" + "ab" * 12
PATH = f"/api/v1/subscriptions/{SUB}/stream"
PROBLEM_404 = {
    "type": "https://neo-service-layer.dev/problems/not-found",
    "title": "Not Found",
    "status": 404,
    "detail": "no such subscription",
}


def frame(event_id: int, kind: str = "key.created", newline: str = "\n", **data: Any) -> str:
    """One event as the server frames it: id, event, and the webhook payload as data."""
    payload = {
        "id": event_id,
        "type": kind,
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "subscription": SUB,
        "data": data,
    }
    return newline.join([f"id: {event_id}", f"event: {kind}", f"data: {json.dumps(payload)}", "", ""])


class Waits(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as scripted:
        yield scripted


def _last_ids(server: ScriptedServer) -> list[str | None]:
    return [r.headers.get("last-event-id") for r in server.requests(PATH)]


def test_the_parser_reads_the_server_framing_and_ignores_comments() -> None:
    parser = EventStreamParser()
    lines = [": stream open", "", *frame(7, target="key:k_1").splitlines(), ": keep-alive", ""]
    events = [e for e in map(parser.feed, lines) if e is not None]
    assert events == [
        StreamEvent.model_validate(
            {
                "id": 7,
                "type": "key.created",
                "timestamp": "2026-12-01T10:00:00Z",
                "subscription": SUB,
                "data": {"target": "key:k_1"},
            }
        )
    ]
    assert parser.last_event_id == "7"
    # data over several lines is joined with newlines; "field:value" without the space; retry in ms
    for line in ["retry: 2500", "id:8", "event:audit.security", 'data:{"id": 8, "type": "audit.security",']:
        assert parser.feed(line) is None
    assert parser.feed('data: "timestamp": "2026-12-01T10:00:01Z", "subscription": "s", "data": {}}') is None
    joined = parser.feed("")
    assert joined is not None
    assert (joined.id, joined.type, joined.subscription, joined.data) == (8, "audit.security", "s", {})
    assert parser.retry_seconds == 2.5
    assert parser.feed("") is None  # a blank line with no data dispatches nothing
    parser.feed("id: 9")
    parser.feed("data: {not json")
    with pytest.raises(ValueError, match="not JSON"):
        parser.feed("")


def test_an_ended_stream_is_resumed_after_the_last_event_until_the_subscription_is_gone(
    server: ScriptedServer,
) -> None:
    first = ": stream open\n\n" + frame(7, target="key:a") + "retry: 1500\n: keep-alive\n\n"
    second = ": stream open\r\n\r\n" + frame(8, newline="\r\n") + frame(9, "key.rotated", newline="\r\n")
    server.script.on(
        "GET",
        PATH,
        Answer(200, raw=first.encode()),
        Answer(200, raw=second.encode()),
        Answer(404, PROBLEM_404),
    )
    waits = Waits()
    with Client(server.base_url, api_key="nsl_test_key", sleep=waits) as client:
        stream = client.stream_events(SUB)
        seen = [next(stream), next(stream), next(stream)]
        with pytest.raises(NotFound) as gone:
            next(stream)
    assert [(e.id, e.type) for e in seen] == [(7, "key.created"), (8, "key.created"), (9, "key.rotated")]
    assert seen[0].data == {"target": "key:a"}
    assert gone.value.detail == "no such subscription"
    assert _last_ids(server) == [None, "7", "9"]
    assert waits == [1.5, 1.5]  # the server's retry: field, kept across connections
    opened = server.requests(PATH)[0].headers
    assert (opened["accept"], opened["authorization"]) == ("text/event-stream", "Bearer nsl_test_key")


def test_a_connection_cut_mid_event_is_resumed_and_the_half_event_is_dropped(server: ScriptedServer) -> None:
    cut = frame(1) + frame(2)[:30]  # event 2 breaks off in its data
    server.script.on(
        "GET",
        PATH,
        Answer(200, raw=cut.encode(), cut=True),
        Answer(200, raw=frame(2).encode()),
        Answer(404, PROBLEM_404),
    )
    waits = Waits()
    with Client(server.base_url, api_key="nsl_test_key", sleep=waits) as client:
        stream = client.stream_events(SUB, last_event_id=0)
        with closing(stream):
            assert [next(stream).id, next(stream).id] == [1, 2]
            with pytest.raises(NotFound):
                next(stream)
    assert _last_ids(server) == ["0", "1", "2"]
    policy = RetryPolicy()
    assert len(waits) == 2
    assert all(0 <= w <= policy.base_delay for w in waits)  # the first backoff each time: events came


def test_reconnecting_is_bounded_ending_a_quiet_stream_and_raising_a_dead_connection(
    server: ScriptedServer,
) -> None:
    server.script.on("GET", PATH, Answer(200, raw=b": stream open\n\n"))
    waits = Waits()
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0)
    with Client(server.base_url, api_key="nsl_test_key", sleep=waits, retry=policy) as client:
        assert list(client.stream_events(SUB, last_event_id=5, reconnects=3)) == []
        assert _last_ids(server) == ["5"] * 4  # the first connection and three more
        assert len(waits) == 3
        assert all(0 <= w <= 2**attempt for attempt, w in enumerate(waits))

        server.script.on("GET", PATH, DROP)  # the connection closes before any answer
        with pytest.raises(httpx.TransportError):
            list(client.stream_events(SUB, reconnects=2))
        assert len(server.requests(PATH)) == 4 + 3
        with pytest.raises(httpx.TransportError):
            list(client.stream_events(SUB, reconnects=0))
        assert len(server.requests(PATH)) == 4 + 3 + 1
    assert len(waits) == 3 + 2


def test_problems_before_the_stream_raise_and_503_is_retried_first(server: ScriptedServer) -> None:
    unavailable = {**PROBLEM_404, "status": 503, "type": "https://neo-service-layer.dev/problems/unavailable"}
    server.script.on(
        "GET",
        PATH,
        Answer(503, unavailable, {"Retry-After": "2"}),
        Answer(200, raw=frame(3).encode()),
        Answer(404, PROBLEM_404),
    )
    waits = Waits()
    with Client(server.base_url, api_key="nsl_test_key", sleep=waits) as client:
        stream = client.stream_events(SUB)
        with closing(stream):
            assert next(stream).id == 3
        assert 2.0 <= waits[0] <= 2.0 + RetryPolicy().base_delay
        with pytest.raises(NotFound) as missing:
            next(client.stream_events(SUB))
        assert (missing.value.status, missing.value.detail) == (404, "no such subscription")
        server.script.on("GET", PATH, Answer(422, {**PROBLEM_404, "status": 422, "errors": []}))
        with pytest.raises(ValidationFailed):
            next(client.stream_events(SUB))
    assert len(waits) == 1  # a problem answer is raised, not reconnected


def test_an_expired_session_token_is_refreshed_and_the_stream_opened_again(server: ScriptedServer) -> None:
    def tokens(access: str, refresh: str) -> dict[str, Any]:
        return {
            "access_token": access,
            "expires_in": 900,
            "refresh_token": refresh,
            "refresh_expires_in": 3600,
            "tenant": "ten_1",
            "roles": ["developer"],
            "scopes": ["subscriptions:read"],
            "mfa_enrollment_required": False,
        }

    expired = {**PROBLEM_404, "status": 401, "type": "https://neo-service-layer.dev/problems/token-expired"}
    server.script.on("POST", "/api/v1/auth/token", Answer(200, tokens("access-1", "refresh-1")))
    server.script.on("POST", "/api/v1/auth/refresh", Answer(200, tokens("access-2", "refresh-2")))
    server.script.on("GET", PATH, Answer(401, expired), Answer(200, raw=frame(6).encode()))
    with Client(server.base_url, sleep=Waits()) as client:
        client.sign_in("u", "p")
        stream = client.stream_events(SUB)
        with closing(stream):
            assert next(stream).id == 6
    sent = [r.headers["authorization"] for r in server.requests(PATH)]
    assert sent == ["Bearer access-1", "Bearer access-2"]


def test_send_refuses_the_stream_operation_rather_than_waiting_for_its_end(server: ScriptedServer) -> None:
    with Client(server.base_url, api_key="nsl_test_key") as client, pytest.raises(TypeError, match="stream"):
        client.send(events.stream_events(SUB))
    assert server.requests(PATH) == []


async def test_the_async_client_streams_and_resumes_the_same_way(server: ScriptedServer) -> None:
    server.script.on(
        "GET",
        PATH,
        Answer(200, raw=(frame(4) + frame(5)[:20]).encode(), cut=True),
        Answer(200, raw=frame(5, "key.disabled", target="key:z").encode()),
        Answer(404, PROBLEM_404),
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with AsyncClient(server.base_url, api_key="nsl_test_key", sleep=sleep) as client:
        stream = client.stream_events(SUB, last_event_id=3)
        seen = [await anext(stream), await anext(stream)]
        with pytest.raises(NotFound):
            await anext(stream)
        await stream.aclose()
    assert [(e.id, e.type) for e in seen] == [(4, "key.created"), (5, "key.disabled")]
    assert seen[1].data == {"target": "key:z"}
    assert _last_ids(server) == ["3", "4", "5"]
    assert len(waits) == 2
