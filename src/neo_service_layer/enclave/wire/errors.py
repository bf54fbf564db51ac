"""Base errors of the domain. Each service defines its own subclasses where they are raised.

The HTTP edge maps these classes (never their text) to problem responses.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the operation; the message is safe to show to the caller."""

    #: short machine-readable identifier, used in the problem ``type`` URI
    code: str = "domain-error"


class NotFound(DomainError):
    code = "not-found"


class Conflict(DomainError):
    code = "conflict"


class InvalidInput(DomainError):
    code = "invalid-input"


class PermissionDenied(DomainError):
    code = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class DependencyUnavailable(DomainError):
    """A component the operation needs (database, enclave, chain RPC) cannot be reached."""

    code = "dependency-unavailable"
