"""Reading a subscription's event stream (``GET /api/v1/subscriptions/{id}/stream``): what the sync and
async clients share.

The server frames Server-Sent Events as ``id:`` (the tenant's event id), ``event:`` (the event's type)
and ``data:`` (the JSON object a webhook delivery carries), each event ended by a blank line, and sends
comment lines (``: stream open`` first, ``: keep-alive`` after 15 quiet seconds) that carry nothing. It
sends no ``retry:`` field; one that comes is honoured, up to the retry policy's ``max_delay``.

Resuming: when a connection ends or drops, the client connects again with ``Last-Event-ID`` set to the
last event's id, and the server sends every later event of the subscription's types, none lost or
repeated. ``Resumption`` bounds this: after ``reconnects`` connections in a row that brought no event
(a connection that stayed open ``read_timeout`` seconds counts as one that did), a stream that ended is
over and a dropped one raises its connection error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from nsl_client.calls import Call
from nsl_client.models import StreamEvent
from nsl_client.retry import RetryPolicy
from nsl_client.session import Credentials

EVENT_STREAM = "text/event-stream"


class EventStreamParser:
    """The SSE framing (WHATWG HTML, "interpreting an event stream"), a line at a time (line endings
    removed): fields build an event, a blank line dispatches it, a line starting with ``:`` is a
    comment. An ``id`` becomes the resumption point only when its event is complete, so a connection
    that breaks mid-event resumes before that event, not after it."""

    def __init__(self, last_event_id: str | None = None) -> None:
        #: the id of the last complete event: what ``Last-Event-ID`` resumes after
        self.last_event_id = last_event_id
        #: the reconnection delay the server asked for with ``retry:`` (seconds), if any
        self.retry_seconds: float | None = None
        self._id = last_event_id
        self._data: list[str] = []
        self._type = ""

    def feed(self, line: str) -> StreamEvent | None:
        """Take one line; the event it completes, if any."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_seconds = int(value) / 1000
        return None

    def reset(self) -> None:
        """Forget a half-received event (its connection ended before the blank line that ends it)."""
        self._id, self._data, self._type = self.last_event_id, [], ""

    def _dispatch(self) -> StreamEvent | None:
        self.last_event_id = self._id
        data, kind = "\n".join(self._data), self._type or "message"
        had_data = bool(self._data)
        self._data, self._type = [], ""
        if not had_data:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            raise ValueError(f"event {self.last_event_id}: its data is not JSON") from None
        if not isinstance(payload, dict):
            raise ValueError(f"event {self.last_event_id}: its data is not a JSON object")
        return StreamEvent.model_validate(
            {
                "id": self.last_event_id if self.last_event_id is not None else payload.get("id"),
                "type": kind,
                "timestamp": payload.get("timestamp"),
                "subscription": payload.get("subscription"),
                "data": payload.get("data"),
            }
        )


@dataclass
class Resumption:
    """Where a stream resumes and when it stops reconnecting (see the module's docstring)."""

    reconnects: int
    retry: RetryPolicy
    #: a connection open this long counts as healthy even if no event came (a quiet subscription)
    healthy_seconds: float
    parser: EventStreamParser = field(default_factory=EventStreamParser)
    #: connections in a row that brought no event
    failures: int = 0
    _opened_at: float | None = field(default=None, init=False)
    _delivered: bool = field(default=False, init=False)

    def opened(self, now: float) -> None:
        self._opened_at, self._delivered = now, False

    def feed(self, line: str) -> StreamEvent | None:
        event = self.parser.feed(line)
        if event is not None:
            self._delivered = True
        return event

    def ended(self, now: float) -> float | None:
        """A connection ended (or could not be made): seconds to wait before the next, or ``None``:
        give up."""
        self.parser.reset()
        healthy = self._opened_at is not None and now - self._opened_at >= self.healthy_seconds
        if self._delivered or healthy:
            self.failures = 0
        self._opened_at, self._delivered = None, False
        if self.failures >= self.reconnects:
            return None
        self.failures += 1
        if self.parser.retry_seconds is not None:
            return min(self.parser.retry_seconds, self.retry.max_delay)
        return self.retry.backoff(self.failures - 1)


def stream_request(
    http: httpx.Client | httpx.AsyncClient,
    call: Call[None],
    credentials: Credentials,
    last_event_id: str | None,
    read_timeout: float,
) -> httpx.Request:
    """The GET that opens (or resumes) the stream: ``Last-Event-ID`` when resuming, and a read timeout
    above the server's 15-second keep-alive so a quiet stream is not taken for a dead one."""
    headers = {"accept": EVENT_STREAM, "cache-control": "no-store"}
    authorization = credentials.authorization()
    if authorization is not None:
        headers["authorization"] = authorization
    if last_event_id is not None:
        headers["last-event-id"] = last_event_id
    base = http.timeout
    timeout = httpx.Timeout(connect=base.connect, read=read_timeout, write=base.write, pool=base.pool)
    return http.build_request("GET", call.url, headers=headers, timeout=timeout)
