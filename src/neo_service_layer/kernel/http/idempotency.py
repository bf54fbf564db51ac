"""``Idempotency-Key`` on the creating POSTs: a route dependency claims the key, a middleware keeps the
response.

A route opts in with ``dependencies=[IDEMPOTENT]`` (or ``IDEMPOTENT_ONCE`` when its success response
shows a secret once). The dependency runs after authentication: it claims the key for (tenant,
principal, method, path) or answers for the repeat (the replayed response, 409 in flight or one-time
secret, 422 key reused). The middleware sees the claimed request's response: below 500 it is kept before
its last byte goes out, a 5xx or an exception releases the key so that a retry runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Header, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neo_service_layer.kernel.http.errors import correlation_id
from neo_service_layer.kernel.http.problems import problem_response
from neo_service_layer.kernel.http.security import Authenticated
from neo_service_layer.kernel.idempotency.rules import (
    HEADER,
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    Claimed,
    InFlight,
    KeyReused,
    KeyScope,
    Outcome,
    Replay,
    StoredResponse,
    Withheld,
    kept,
    kept_headers,
    resource_id,
    withholds_body,
)
from neo_service_layer.kernel.idempotency.use_cases import Idempotency
from neo_service_layer.kernel.identity.rules.access import Principal
from neo_service_layer.kernel.observability.logs import get_logger

log = get_logger("nsl.idempotency")

#: ``request.state`` attribute of a claimed key, until its response is kept or the key released
CLAIM = "idempotency_claim"
#: attribute on the dependencies: ``replay`` or ``once`` (for the OpenAPI document and the tests)
MARKER = "__nsl_idempotency__"

_REPLAY_DESCRIPTION = (
    "Optional; 1 to 255 printable ASCII characters, new for each operation you mean. A repeat with the"
    " same key and body within the key's lifetime (24 h by default) gets the first response again, with"
    " `Idempotent-Replayed: true`; with another body 422 (`idempotency-key-reused`); while the first is"
    " still running 409 with `Retry-After`. A first attempt that failed with a 5xx can be retried with"
    " the same key."
)
_ONCE_DESCRIPTION = (
    _REPLAY_DESCRIPTION + " This operation's success response shows a secret once, which is never stored:"
    " a repeat of a success gets 409 (`idempotency-key-one-time-secret`) naming what was created, not"
    " the secret again."
)


@dataclass(frozen=True, slots=True)
class PendingClaim:
    idempotency: Idempotency
    scope: KeyScope
    token: str
    one_time_secret: bool


class IdempotencyAnswer(Exception):
    """The answer to a repeat, instead of running the operation again."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(type(outcome).__name__)
        self.outcome = outcome


def _idempotency(request: Request) -> Idempotency:
    found = request.app.state.idempotency
    assert isinstance(found, Idempotency)
    return found


def _key_header(description: str) -> Any:
    return Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=KEY_PATTERN,
        description=description,
    )


ReplayedKey = Annotated[str | None, _key_header(_REPLAY_DESCRIPTION)]
OnceKey = Annotated[str | None, _key_header(_ONCE_DESCRIPTION)]


async def _claim(request: Request, principal: Principal, key: str | None, *, one_time_secret: bool) -> None:
    if key is None:
        return
    idempotency = _idempotency(request)
    scope = KeyScope(principal.tenant_id, principal.actor, request.method, request.url.path, key)
    outcome = await idempotency.begin(scope, idempotency.fingerprint(await request.body()))
    if not isinstance(outcome, Claimed):
        raise IdempotencyAnswer(outcome)
    setattr(request.state, CLAIM, PendingClaim(idempotency, scope, outcome.token, one_time_secret))


async def _replayed(request: Request, principal: Authenticated, key: ReplayedKey = None) -> None:
    await _claim(request, principal, key, one_time_secret=False)


async def _once(request: Request, principal: Authenticated, key: OnceKey = None) -> None:
    await _claim(request, principal, key, one_time_secret=True)


setattr(_replayed, MARKER, "replay")
setattr(_once, MARKER, "once")

#: a creating POST whose response is replayed to a repeat with the same key and body
IDEMPOTENT: Any = Depends(_replayed)
#: the same for a POST whose success response shows a secret once: that response is not stored
IDEMPOTENT_ONCE: Any = Depends(_once)


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotencyAnswer)
    outcome = exc.outcome
    common: dict[str, Any] = {"instance": request.url.path, "correlation_id": correlation_id(request)}
    if isinstance(outcome, Replay):
        stored = outcome.response
        headers = {**dict(stored.headers), REPLAYED_HEADER.lower(): "true"}
        return Response(stored.body, status_code=stored.status, headers=headers)
    if isinstance(outcome, Withheld):
        created = outcome.response.resource_id
        return problem_response(
            409,
            code="idempotency-key-one-time-secret",
            detail=(
                f"The request with this {HEADER} succeeded ({outcome.response.status}); its response"
                " carried a secret shown once, which is not stored, so it cannot be replayed."
                + (f" It created {created}." if created else "")
            ),
            extra={"original_status": outcome.response.status, "resource_id": created},
            **common,
        )
    if isinstance(outcome, InFlight):
        return problem_response(
            409,
            code="idempotency-key-in-flight",
            detail=f"A request with this {HEADER} is still running; retry after it completes.",
            headers={"retry-after": str(outcome.retry_after_seconds)},
            **common,
        )
    assert isinstance(outcome, KeyReused)
    return problem_response(
        422,
        code="idempotency-key-reused",
        detail=f"This {HEADER} was used for a request with another body; use a new key for a new request.",
        **common,
    )


class IdempotencyMiddleware:
    """Keeps the response of a request that claimed a key (below 500), or releases the key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            claim = state.get(CLAIM)
            if isinstance(claim, PendingClaim):
                if message["type"] == "http.response.start":
                    start.update(message)
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        del state[CLAIM]
                        try:
                            await _settle(claim, start, b"".join(chunks))
                        except Exception as exc:  # the answer still goes out; the claim lapses
                            log.warning("idempotency key not settled", error=type(exc).__name__)
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            claim = state.pop(CLAIM, None)
            if isinstance(claim, PendingClaim):  # an exception, or no complete response
                with anyio.CancelScope(shield=True):
                    await claim.idempotency.abandon(claim.scope, claim.token)


async def _settle(claim: PendingClaim, start: Message, body: bytes) -> None:
    status = int(start.get("status", 500))
    if not kept(status):
        await claim.idempotency.abandon(claim.scope, claim.token)
        return
    withheld = withholds_body(status, one_time_secret=claim.one_time_secret)
    response = StoredResponse(
        status=status,
        headers=kept_headers(list(start.get("headers", []))),
        body=None if withheld else body,
        resource_id=resource_id(body) if withheld else None,
    )
    await claim.idempotency.finish(claim.scope, claim.token, response)


def install_idempotency(app: FastAPI) -> None:
    """The answer to repeats and the middleware that keeps responses (innermost of the middlewares)."""
    app.add_exception_handler(IdempotencyAnswer, _answer)
    app.add_middleware(IdempotencyMiddleware)
