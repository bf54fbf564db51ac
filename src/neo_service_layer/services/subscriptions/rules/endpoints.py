"""Per-endpoint fairness of deliveries within one worker: a concurrency limit and a small circuit
breaker per endpoint, so a slow or dead endpoint takes a bounded share of the worker's slots and few
attempts, however many subscriptions point at it.

An endpoint is a webhook URL's origin (scheme, host, port) or, for e-mail, the SMTP server (one).
A :class:`Circuit` is *closed* (up to ``limit`` attempts at once), *open* after ``failures`` failed
attempts in a row, each within ``window`` seconds of the previous one (no new attempt), then
*half-open* once ``cool_down`` seconds passed (one attempt at a time: a success closes it, a failure
opens it again). Nothing here drops a delivery: what is not admitted stays pending and is sent later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

#: the endpoint of every e-mail delivery (the worker sends through one SMTP server)
SMTP = "smtp"
DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_of(kind: str, url: str | None) -> str:
    """``scheme://host:port`` of a webhook URL (lowercase, the scheme's default port filled in);
    ``SMTP`` for an e-mail delivery."""
    if kind == "email" or not url:
        return SMTP
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    except ValueError:  # a malformed port: the URL itself is the endpoint (its attempts fail anyway)
        return url
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def endpoint_failed(kind: str, status: int | None) -> bool:
    """Whether an answer says the endpoint is unwell (not the delivery): no answer (timeout, connection
    refused) or an HTTP 5xx; for SMTP no reply or 421 (service not available: a 5xx there is about
    the recipient or the message)."""
    if status is None:
        return True
    if kind == "email":
        return status == 421
    return status >= 500


@dataclass(frozen=True, slots=True)
class Policy:
    #: attempts in flight at once per endpoint (``NSL_SUBSCRIPTIONS_MAX_PER_ENDPOINT``)
    limit: int = 4
    #: failed attempts in a row that open the circuit
    failures: int = 5
    #: a failure more than this long after the previous one starts a new run (seconds)
    window: float = 60.0
    #: an open circuit lets one attempt through after this long (seconds)
    cool_down: float = 30.0


@dataclass(frozen=True, slots=True)
class Circuit:
    #: failed attempts in a row (the run)
    failures: int = 0
    last_failure: float | None = None
    #: when it opened (``None``: closed)
    opened_at: float | None = None


def allowed(circuit: Circuit, policy: Policy, now: float) -> int:
    """Attempts that may be in flight at once now: ``limit`` closed, 0 open, 1 half-open."""
    if circuit.opened_at is None:
        return policy.limit
    return 1 if now - circuit.opened_at >= policy.cool_down else 0


def after_attempt(circuit: Circuit, policy: Policy, *, failed: bool, now: float) -> Circuit:
    """The circuit after an attempt's outcome: a success closes it; a failure extends the run (or
    starts one after ``window``) and opens it at ``failures`` (again at once when it was open)."""
    if not failed:
        return Circuit()
    recent = circuit.last_failure is not None and now - circuit.last_failure <= policy.window
    run = circuit.failures + 1 if recent else 1
    opens = circuit.opened_at is not None or run >= policy.failures
    return replace(circuit, failures=run, last_failure=now, opened_at=now if opens else None)


@dataclass
class EndpointGate:
    """The worker's circuits and attempts in flight per endpoint (one event loop: no locking)."""

    policy: Policy = field(default_factory=Policy)
    circuits: dict[str, Circuit] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)

    def blocked(self, endpoint: str, now: float) -> str | None:
        """Why a new attempt at ``endpoint`` must wait now: ``"open"`` (its circuit), ``"busy"`` (at
        its limit), or ``None``: it may start."""
        room = allowed(self.circuits.get(endpoint, Circuit()), self.policy, now)
        if room == 0:
            return "open"
        return "busy" if self.busy.get(endpoint, 0) >= room else None

    def acquire(self, endpoint: str, now: float) -> str | None:
        """Take a slot at ``endpoint`` when it may start (``None``), else why not (nothing taken)."""
        why = self.blocked(endpoint, now)
        if why is None:
            self.busy[endpoint] = self.busy.get(endpoint, 0) + 1
        return why

    def release(self, endpoint: str) -> None:
        left = self.busy.get(endpoint, 0) - 1
        if left > 0:
            self.busy[endpoint] = left
        else:
            self.busy.pop(endpoint, None)

    def record(self, endpoint: str, *, failed: bool, now: float) -> None:
        circuit = after_attempt(self.circuits.get(endpoint, Circuit()), self.policy, failed=failed, now=now)
        if circuit == Circuit():
            self.circuits.pop(endpoint, None)  # closed and clean: nothing to keep
        else:
            self.circuits[endpoint] = circuit
