"""Retries, idempotency keys, token refresh and problem errors against a scripted loopback server, so
each answer (429, 503, a dropped connection, an expired token) comes exactly when the test says.
Waits are recorded by the client's ``sleep`` instead of being slept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from nsl_client import (
    AsyncClient,
    Client,
    Conflict,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServiceUnavailable,
    Unauthorized,
)
from tests.client.scripted_server import DROP, Answer, ScriptedServer, scripted_server

INFO = {
    "version": "1",
    "environment": "test",
    "schema_revision": "r1",
    "schema_head": "r1",
    "schema_current": True,
    "tee_platform": "simulation",
}
KEY = {
    "key_id": "key_1",
    "label": "l",
    "kind": "secp256r1",
    "purposes": ["message"],
    "status": "active",
    "current_version": 1,
    "min_sign_version": 1,
    "max_signs_per_minute": None,
    "public_key": "02" + "11" * 32,
    "neo_address": None,
    "neo_script_hash": None,
    "evm_address": None,
    "rotation_due": False,
    "created_at": "2026-01-01T00:00:00Z",
    "rotated_at": None,
    "disabled_at": None,
    "destroy_after": None,
    "destroyed_at": None,
    "versions": [],
}
SIGNATURE = {
    "key_id": "key_1",
    "version": 1,
    "format": "ecdsa-sha256",
    "encoding": "hex",
    "public_key": "02",
    "signature": "00",
}


def _problem(status: int, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://neo-service-layer.dev/problems/{code}",
        "title": "t",
        "status": status,
        "detail": f"{code} detail",
        "instance": "/x",
        "correlation_id": "corr-1",
        **extra,
    }


class Waits(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Any:
    with scripted_server() as scripted:
        yield scripted


def _client(server: ScriptedServer, waits: Waits, **options: Any) -> Client:
    return Client(server.base_url, api_key="nsl_test_key", sleep=waits, **options)


def test_429_is_retried_after_the_seconds_retry_after_names(server: ScriptedServer) -> None:
    server.script.on(
        "GET",
        "/api/v1/system/info",
        Answer(429, _problem(429, "rate-limited"), {"Retry-After": "3"}),
        Answer(200, INFO),
    )
    waits = Waits()
    with _client(server, waits) as client:
        assert client.system_info().tee_platform == "simulation"
    assert len(server.requests("/api/v1/system/info")) == 2
    assert len(waits) == 1
    assert 3.0 <= waits[0] <= 3.0 + RetryPolicy().base_delay


def test_503_is_retried_after_the_http_date_retry_after_names(server: ScriptedServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    server.script.on(
        "GET",
        "/api/v1/system/info",
        Answer(503, _problem(503, "unavailable"), {"Retry-After": when}),
        Answer(200, INFO),
    )
    waits = Waits()
    with _client(server, waits) as client:
        client.system_info()
    assert len(waits) == 1
    assert 17.0 <= waits[0] <= 20.0 + RetryPolicy().base_delay


def test_attempts_are_bounded_and_the_last_problem_is_raised(server: ScriptedServer) -> None:
    server.script.on(
        "GET", "/api/v1/system/info", Answer(429, _problem(429, "rate-limited"), {"Retry-After": "1"})
    )
    waits = Waits()
    with (
        _client(server, waits, retry=RetryPolicy(max_attempts=3)) as client,
        pytest.raises(RateLimited) as error,
    ):
        client.system_info()
    assert len(server.requests("/api/v1/system/info")) == 3
    assert len(waits) == 2
    assert error.value.status == 429
    assert error.value.code == "rate-limited"
    assert error.value.headers["retry-after"] == "1"


def test_without_retry_after_the_backoff_is_exponential_with_jitter(server: ScriptedServer) -> None:
    server.script.on("GET", "/api/v1/system/info", Answer(503, _problem(503, "unavailable")))
    waits = Waits()
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=100.0)
    with _client(server, waits, retry=policy) as client, pytest.raises(ServiceUnavailable):
        client.system_info()
    assert len(waits) == 4
    assert all(0.0 <= wait <= 2**attempt for attempt, wait in enumerate(waits))


def test_a_retry_after_beyond_the_policy_is_not_waited_for(server: ScriptedServer) -> None:
    server.script.on(
        "GET", "/api/v1/system/info", Answer(429, _problem(429, "rate-limited"), {"Retry-After": "3600"})
    )
    waits = Waits()
    with _client(server, waits) as client, pytest.raises(RateLimited):
        client.system_info()
    assert waits == []
    assert len(server.requests("/api/v1/system/info")) == 1


def test_a_create_sends_one_idempotency_key_on_every_attempt(server: ScriptedServer) -> None:
    server.script.on(
        "POST", "/api/v1/keys", Answer(503, _problem(503, "unavailable")), DROP, Answer(201, KEY)
    )
    waits = Waits()
    with _client(server, waits) as client:
        assert client.create_key("secp256r1", "l", ["message"]).key_id == "key_1"
        sent = [r.headers["idempotency-key"] for r in server.requests("/api/v1/keys")]
        assert len(sent) == 3
        assert len(set(sent)) == 1
        assert uuid.UUID(sent[0]).version == 4
        client.create_key("secp256r1", "l", ["message"], idempotency_key="caller-key-1")
        another = client.create_key("secp256r1", "l", ["message"])
    keys = [r.headers["idempotency-key"] for r in server.requests("/api/v1/keys")]
    assert keys[3] == "caller-key-1"
    assert keys[4] not in (sent[0], "caller-key-1")
    assert another.key_id == "key_1"


def test_a_dropped_connection_is_retried_only_when_the_server_may_see_the_request_twice(
    server: ScriptedServer,
) -> None:
    server.script.on("POST", "/api/v1/keys/key_1/sign", DROP, Answer(200, SIGNATURE))
    server.script.on("GET", "/api/v1/keys/key_1", DROP, Answer(200, KEY))
    waits = Waits()
    with _client(server, waits) as client:
        with pytest.raises(httpx.TransportError):
            client.sign("key_1", b"m")  # a POST without idempotency key: maybe done, not repeated
        assert len(server.requests("/api/v1/keys/key_1/sign")) == 1
        assert "idempotency-key" not in server.requests("/api/v1/keys/key_1/sign")[0].headers
        assert client.get_key("key_1").key_id == "key_1"  # a GET is repeated
    assert len(server.requests("/api/v1/keys/key_1")) == 2


def _tokens(access: str, refresh: str, expires_in: int = 900) -> dict[str, Any]:
    return {
        "access_token": access,
        "expires_in": expires_in,
        "refresh_token": refresh,
        "refresh_expires_in": 3600,
        "tenant": "ten_1",
        "roles": ["owner"],
        "scopes": ["keys:read"],
        "mfa_enrollment_required": False,
    }


WHO = {"tenant": "ten_1", "subject": "usr_1", "kind": "user", "roles": [], "scopes": []}


def test_a_401_saying_expired_refreshes_once_and_repeats_the_call(server: ScriptedServer) -> None:
    server.script.on("POST", "/api/v1/auth/token", Answer(200, _tokens("access-1", "refresh-1")))
    server.script.on("POST", "/api/v1/auth/refresh", Answer(200, _tokens("access-2", "refresh-2")))
    server.script.on("GET", "/api/v1/auth/me", Answer(401, _problem(401, "token-expired")), Answer(200, WHO))
    with Client(server.base_url, sleep=Waits()) as client:
        client.sign_in("u", "p", totp_code="123456")
        assert client.me().subject == "usr_1"
        assert client.credentials.refresh_token == "refresh-2"
    me = server.requests("/api/v1/auth/me")
    assert [r.headers["authorization"] for r in me] == ["Bearer access-1", "Bearer access-2"]
    (refresh,) = server.requests("/api/v1/auth/refresh")
    assert b'"refresh-1"' in refresh.body
    assert "authorization" not in refresh.headers
    sign_in = server.requests("/api/v1/auth/token")[0]
    assert b'"totp_code":"123456"' in sign_in.body


def test_another_401_is_raised_without_a_refresh(server: ScriptedServer) -> None:
    server.script.on("POST", "/api/v1/auth/token", Answer(200, _tokens("access-1", "refresh-1")))
    server.script.on("GET", "/api/v1/auth/me", Answer(401, _problem(401, "token-revoked", hint="sign in")))
    with Client(server.base_url) as client:
        client.sign_in("u", "p")
        with pytest.raises(Unauthorized) as error:
            client.me()
    assert error.value.code == "token-revoked"
    assert error.value.extra == {"hint": "sign in"}
    assert server.requests("/api/v1/auth/refresh") == []


def test_an_expired_access_token_is_refreshed_before_the_call(server: ScriptedServer) -> None:
    now = [1000.0]
    server.script.on("POST", "/api/v1/auth/token", Answer(200, _tokens("access-1", "refresh-1", 60)))
    server.script.on("POST", "/api/v1/auth/refresh", Answer(200, _tokens("access-2", "refresh-2", 60)))
    server.script.on("GET", "/api/v1/auth/me", Answer(200, WHO))
    with Client(server.base_url, clock=lambda: now[0]) as client:
        client.sign_in("u", "p")
        client.me()
        now[0] += 61
        client.me()
    assert [r.headers["authorization"] for r in server.requests("/api/v1/auth/me")] == [
        "Bearer access-1",
        "Bearer access-2",
    ]


def test_a_problem_carries_its_document(server: ScriptedServer) -> None:
    server.script.on(
        "GET", "/api/v1/keys/nope", Answer(404, _problem(404, "not-found", errors=[{"loc": "x"}]))
    )
    with _client(server, Waits()) as client, pytest.raises(NotFound) as error:
        client.get_key("nope")
    problem = error.value
    assert (problem.status, problem.code, problem.detail, problem.instance) == (
        404,
        "not-found",
        "not-found detail",
        "/x",
    )
    assert problem.correlation_id == "corr-1"
    assert problem.extra == {"errors": [{"loc": "x"}]}


async def test_the_async_client_retries_with_the_same_idempotency_key(server: ScriptedServer) -> None:
    server.script.on(
        "POST",
        "/api/v1/keys",
        Answer(429, _problem(429, "rate-limited"), {"Retry-After": "2"}),
        Answer(201, KEY),
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with AsyncClient(server.base_url, api_key="nsl_k", sleep=sleep) as client:
        key = await client.create_key("secp256r1", "l", ["message"])
    assert key.key_id == "key_1"
    sent = server.requests("/api/v1/keys")
    assert len(sent) == 2
    assert sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    assert sent[0].headers["authorization"] == "Bearer nsl_k"
    assert len(waits) == 1
    assert waits[0] >= 2.0


def test_a_409_in_flight_is_retried_with_the_same_key_and_another_409_is_raised(
    server: ScriptedServer,
) -> None:
    in_flight = Answer(409, _problem(409, "idempotency-key-in-flight"), {"Retry-After": "2"})
    server.script.on("POST", "/api/v1/keys", DROP, in_flight, Answer(201, KEY))
    once = _problem(409, "idempotency-key-one-time-secret", resource_id="key_9")
    server.script.on("POST", "/api/v1/tenants/ten_1/api-keys", Answer(409, once))
    waits = Waits()
    with _client(server, waits) as client:
        assert client.create_key("secp256r1", "l", ["message"]).key_id == "key_1"
        with pytest.raises(Conflict) as conflict:
            client.create_api_key("ten_1", "n", ["keys:read"])
    sent = [r.headers["idempotency-key"] for r in server.requests("/api/v1/keys")]
    assert len(sent) == 3
    assert len(set(sent)) == 1
    assert len(waits) == 2
    assert waits[1] >= 2.0
    assert len(server.requests("/api/v1/tenants/ten_1/api-keys")) == 1
    assert conflict.value.extra["resource_id"] == "key_9"


def test_retry_after_reads_seconds_and_dates_and_ignores_garbage() -> None:
    from nsl_client.retry import parse_retry_after

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", now) == 0.0  # already past: no wait
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
