"""Client of the Neo Service Layer REST API (sync and async), and off-chain checks of its signed answers."""

from nsl_client.async_client import AsyncClient
from nsl_client.client import Client
from nsl_client.errors import (
    BadRequest,
    ClientProblem,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    RateLimited,
    ServerProblem,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from nsl_client.retry import RetryPolicy

__version__ = "0.2.0"

__all__ = [
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientProblem",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "RateLimited",
    "RetryPolicy",
    "ServerProblem",
    "ServiceUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "__version__",
]
