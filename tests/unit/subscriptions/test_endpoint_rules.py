"""The per-endpoint rule: what an endpoint is, which answers count against it, the limit of attempts
in flight and the circuit (closed, open after failures in a row within the window, half-open after
the cool-down with one probe, closed by a success)."""

from __future__ import annotations

import pytest

from neo_service_layer.services.subscriptions.rules.endpoints import (
    SMTP,
    Circuit,
    EndpointGate,
    Policy,
    after_attempt,
    allowed,
    endpoint_failed,
    endpoint_of,
)

POLICY = Policy(limit=3, failures=3, window=10.0, cool_down=30.0)


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://Hooks.Example.com/a/b?x=1", "https://hooks.example.com:443"),
        ("https://hooks.example.com:443/other", "https://hooks.example.com:443"),
        ("http://hooks.example.com/a", "http://hooks.example.com:80"),
        ("https://hooks.example.com:8443/a", "https://hooks.example.com:8443"),
        ("https://user:pw@hooks.example.com/a", "https://hooks.example.com:443"),
        ("http://127.0.0.1:9000/x", "http://127.0.0.1:9000"),
        ("https://[::1]:8443/x", "https://[::1]:8443"),
    ],
)
def test_an_endpoint_is_the_urls_origin(url: str, endpoint: str) -> None:
    assert endpoint_of("webhook", url) == endpoint


def test_other_origins_differ_and_email_is_the_smtp_server() -> None:
    assert endpoint_of("webhook", "https://a.example.com/") != endpoint_of(
        "webhook", "https://b.example.com/"
    )
    assert endpoint_of("webhook", "http://a.example.com/") != endpoint_of("webhook", "https://a.example.com/")
    assert endpoint_of("email", None) == SMTP
    assert endpoint_of("email", "https://ignored.example.com/") == SMTP


def test_which_answers_count_against_the_endpoint() -> None:
    for status in (None, 500, 502, 503, 504):
        assert endpoint_failed("webhook", status)
    for status in (200, 204, 400, 401, 404, 410, 429):
        assert not endpoint_failed("webhook", status)
    assert endpoint_failed("email", None)
    assert endpoint_failed("email", 421)
    for code in (250, 450, 550, 552):  # about the recipient or the message, not the server
        assert not endpoint_failed("email", code)


def test_the_circuit_opens_after_failures_in_a_row_within_the_window() -> None:
    c = Circuit()
    for t in (0.0, 5.0):
        c = after_attempt(c, POLICY, failed=True, now=t)
        assert allowed(c, POLICY, t) == POLICY.limit
    c = after_attempt(c, POLICY, failed=True, now=12.0)  # 7 s after the previous one: same run
    assert c.opened_at == 12.0
    assert allowed(c, POLICY, 12.0) == 0
    assert allowed(c, POLICY, 41.9) == 0


def test_a_success_or_a_gap_past_the_window_restarts_the_run() -> None:
    c = Circuit()
    for t in (0.0, 1.0):
        c = after_attempt(c, POLICY, failed=True, now=t)
    c = after_attempt(c, POLICY, failed=False, now=2.0)
    assert c == Circuit()
    for t in (3.0, 4.0, 20.0):  # 16 s gap: a new run of one
        c = after_attempt(c, POLICY, failed=True, now=t)
    assert (c.failures, c.opened_at) == (1, None)


def test_half_open_after_the_cool_down_then_closed_or_open_again() -> None:
    c = Circuit()
    for t in (0.0, 1.0, 2.0):
        c = after_attempt(c, POLICY, failed=True, now=t)
    assert allowed(c, POLICY, 32.0) == 1  # one probe
    reopened = after_attempt(c, POLICY, failed=True, now=33.0)
    assert allowed(reopened, POLICY, 33.0) == 0
    assert allowed(reopened, POLICY, 62.9) == 0
    assert allowed(reopened, POLICY, 63.0) == 1
    closed = after_attempt(c, POLICY, failed=False, now=33.0)
    assert allowed(closed, POLICY, 33.0) == POLICY.limit


def test_the_gate_limits_attempts_in_flight_per_endpoint() -> None:
    gate = EndpointGate(POLICY)
    slow, fast = "https://slow.example.com:443", "https://fast.example.com:443"
    assert [gate.acquire(slow, 0.0) for _ in range(POLICY.limit)] == [None] * POLICY.limit
    assert gate.acquire(slow, 0.0) == "busy"
    assert gate.busy[slow] == POLICY.limit  # a refusal takes nothing
    assert gate.acquire(fast, 0.0) is None  # another endpoint is not held
    gate.release(slow)
    assert gate.blocked(slow, 0.0) is None
    assert gate.acquire(slow, 0.0) is None
    for _ in range(POLICY.limit):
        gate.release(slow)
    assert slow not in gate.busy


def test_the_gate_opens_lets_one_probe_through_and_closes() -> None:
    gate = EndpointGate(POLICY)
    dead = "http://127.0.0.1:9"
    for t in (0.0, 1.0, 2.0):
        gate.record(dead, failed=True, now=t)
    assert gate.acquire(dead, 3.0) == "open"
    assert gate.acquire("http://127.0.0.1:10", 3.0) is None  # only that endpoint
    assert gate.acquire(dead, 32.0) is None  # half-open: the probe
    assert gate.acquire(dead, 32.0) == "busy"  # one at a time
    gate.release(dead)
    gate.record(dead, failed=False, now=33.0)
    assert dead not in gate.circuits
    assert [gate.acquire(dead, 33.0) for _ in range(POLICY.limit)] == [None] * POLICY.limit
