"""Errors the client raises: every non-2xx answer becomes a ``ProblemError`` carrying its RFC 9457
problem document, with one subclass per status so callers catch what they mean."""

from __future__ import annotations

from typing import Any

#: the members every problem has; the rest go to ``ProblemError.extra``
_STANDARD = frozenset({"type", "title", "status", "detail", "instance", "correlation_id"})


class ProblemError(Exception):
    """A problem document answered by the API (or built from a non-problem error answer)."""

    def __init__(self, status: int, problem: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.problem = problem
        self.headers = headers or {}
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        self.instance = str(problem.get("instance", ""))
        correlation = problem.get("correlation_id") or self.headers.get("x-request-id")
        self.correlation_id = str(correlation) if correlation is not None else None
        self.extra = {k: v for k, v in problem.items() if k not in _STANDARD}
        super().__init__(f"{status} {self.title}: {self.detail} (correlation id {self.correlation_id})")

    @property
    def code(self) -> str:
        """The last segment of ``type`` (``.../problems/token-expired`` gives ``token-expired``)."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]


class ClientProblem(ProblemError):
    """A 4xx answer: the request must change before it can succeed."""


class BadRequest(ClientProblem):
    """400."""


class Unauthorized(ClientProblem):
    """401: no valid credential."""


class Forbidden(ClientProblem):
    """403: the credential lacks a scope or belongs to another tenant."""


class NotFound(ClientProblem):
    """404."""


class Conflict(ClientProblem):
    """409."""


class PayloadTooLarge(ClientProblem):
    """413."""


class ValidationFailed(ClientProblem):
    """422: the request does not satisfy the schema (``extra["errors"]`` lists where)."""


class RateLimited(ClientProblem):
    """429, still refused after the client's retries."""


class ServerProblem(ProblemError):
    """A 5xx answer."""


class ServiceUnavailable(ServerProblem):
    """503, still refused after the client's retries."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: RateLimited,
    503: ServiceUnavailable,
}


def problem_error(status: int, body: object, headers: dict[str, str]) -> ProblemError:
    """The error for an answer with ``status``; a body that is not a problem object is kept as detail."""
    problem = body if isinstance(body, dict) else {"status": status, "detail": str(body)[:500]}
    kind = _BY_STATUS.get(status)
    if kind is None:
        kind = ServerProblem if status >= 500 else ClientProblem
    return kind(status, problem, headers)
