"""Refusing JSON request bodies that are not Unicode text, before any route reads them.

JSON lets a lone surrogate through (``"\\ud800"``, or its raw bytes) and Python parses it into a string
that cannot be encoded as UTF-8: a route storing, hashing or forwarding it then failed with a 500
(found by ``tests/http/test_bad_input_routes.py``). Every route is covered here, once, with a 422 of
the shape FastAPI gives to a JSON body it cannot parse. Runs inside the body limit, so the body it
buffers is bounded; a body without such an escape (nearly all) costs one regex scan.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neo_service_layer.enclave.wire.encoding import json_holds_lone_surrogate, may_hold_surrogate
from neo_service_layer.kernel.http.problems import problem_response


class JsonTextMiddleware:
    """Answer 422 to a JSON body holding a lone surrogate; pass every other request on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _may_be_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        last: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                last = message  # the client went away: the app sees that, as it would have
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if last is None and _lone_surrogate(body):
            await _refuse(scope, receive, send)
            return
        pending: list[Message] = [{"type": "http.request", "body": body, "more_body": last is not None}]
        if last is not None:
            pending.append(last)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)


def _may_be_json(scope: Scope) -> bool:
    """A body the routes would parse as JSON: ``application/json``, ``*/*+json``, or no content type."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = bytes(value).split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


def _lone_surrogate(body: bytes) -> bool:
    if not may_hold_surrogate(body):
        return False
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON at all: the route answers that itself
    return json_holds_lone_surrogate(body, value)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    state = scope.get("state", {})
    detail = "The JSON body holds a lone surrogate (\\ud800-\\udfff): it is not Unicode text."
    response = problem_response(
        422,
        code="validation-error",
        detail=detail,
        instance=scope["path"],
        correlation_id=str(state.get("request_id", "")),
        extra={"errors": [{"field": "body", "message": detail, "type": "json_invalid"}]},
    )
    await response(scope, receive, send)
