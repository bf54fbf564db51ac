"""What the sync and async clients share: the credential they present, requests built from a ``Call``,
and answers read into models or ``ProblemError``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from nsl_client.calls import Call, Effect
from nsl_client.errors import ProblemError, problem_error
from nsl_client.models import TokenResponse

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: refresh this long before the access token's stated expiry (clock skew, request time)
REFRESH_MARGIN_SECONDS = 30.0
USER_AGENT = "neo-service-layer-client/0.2.0"


@dataclass
class Credentials:
    """An API key, or the tokens of a signed-in session (``expires_at`` on the client's clock)."""

    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None

    def authorization(self) -> str | None:
        token = self.access_token or self.api_key
        return f"Bearer {token}" if token else None

    def can_refresh(self) -> bool:
        return self.refresh_token is not None

    def should_refresh(self, now: float) -> bool:
        """The access token has expired (or is about to) and a refresh token can replace it."""
        return (
            self.access_token is not None
            and self.can_refresh()
            and self.expires_at is not None
            and now >= self.expires_at - REFRESH_MARGIN_SECONDS
        )

    def store(self, tokens: TokenResponse, now: float) -> None:
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        self.expires_at = now + tokens.expires_in

    def clear(self) -> None:
        self.access_token = self.refresh_token = self.expires_at = None


def idempotency_key_for(call: Call[Any]) -> str | None:
    """The key every attempt of this call carries: the caller's, a fresh uuid4 for a POST that creates
    something, else none."""
    if call.idempotency_key is not None:
        return call.idempotency_key
    return str(uuid.uuid4()) if call.operation.creates else None


def build_request(
    http: httpx.Client | httpx.AsyncClient, call: Call[Any], credentials: Credentials, key: str | None
) -> httpx.Request:
    if call.operation.streams:  # its body never ends: reading it as JSON would wait forever
        raise TypeError(f"{call.operation.name} answers an event stream: use the client's stream_events")
    headers = {"accept": "application/json"}
    authorization = credentials.authorization() if call.operation.authenticated else None
    if authorization is not None:
        headers["authorization"] = authorization
    if key is not None:
        headers[IDEMPOTENCY_HEADER] = key
    return http.build_request(
        call.operation.method, call.url, params=call.params or None, json=call.json, headers=headers
    )


def _problem_is(response: httpx.Response, status: int, code: str) -> bool:
    if response.status_code != status:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("type", "")).endswith("/" + code)


def said_expired(response: httpx.Response) -> bool:
    """A 401 whose problem type says the access token has expired (``.../token-expired``)."""
    return _problem_is(response, 401, "token-expired")


def said_in_flight(response: httpx.Response) -> bool:
    """A 409 saying the first request with this idempotency key is still running: the same call,
    retried after ``Retry-After``, gets its response."""
    return _problem_is(response, 409, "idempotency-key-in-flight")


def problem_of(response: httpx.Response) -> ProblemError:
    """The error an answer of status 400 or above carries (its body read already)."""
    try:
        body: object = response.json()
    except ValueError:
        body = response.text
    return problem_error(response.status_code, body, dict(response.headers))


def finish[T](call: Call[T], response: httpx.Response, credentials: Credentials, now: float) -> T:
    """The call's result, or the ``ProblemError`` the answer carries; applies the call's effect."""
    if response.status_code >= 400:
        raise problem_of(response)
    data = response.json() if response.content else None
    result = call.parse(data)
    if call.operation.effect is Effect.STORE_TOKENS and isinstance(result, TokenResponse):
        credentials.store(result, now)
    elif call.operation.effect is Effect.CLEAR_TOKENS:
        credentials.clear()
    return result
