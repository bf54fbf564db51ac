"""The errors of the identity services, each with the problem ``code`` the HTTP edge answers with.

Kept apart from the entities so every identity module (rules, use cases, adapters) can raise them
without importing the others; the base classes (401, 403, 404, 409, 422) come from the wire errors.
"""

from __future__ import annotations

from neo_service_layer.enclave.wire.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

# Unauthenticated (401) ---------------------------------------------------------------------------


class InvalidCredentials(Unauthenticated):
    code = "invalid-credentials"


class MfaRequired(Unauthenticated):
    code = "mfa-required"


class InvalidMfaCode(Unauthenticated):
    code = "invalid-mfa-code"


class InvalidToken(Unauthenticated):
    code = "invalid-token"


class TokenExpired(InvalidToken):
    code = "token-expired"


class TokenRevoked(InvalidToken):
    code = "token-revoked"


class RefreshReuseDetected(InvalidToken):
    code = "refresh-token-reuse"


class InvalidApiKey(Unauthenticated):
    code = "invalid-api-key"


# Permission denied (403) -------------------------------------------------------------------------


class MissingScope(PermissionDenied):
    code = "missing-scope"


class CredentialProofRequired(PermissionDenied):
    """Only one of the tenant's own API keys can prove the tenant to the enclave (not a session)."""

    code = "api-key-required"


class ScopeNotHeld(PermissionDenied):
    code = "scope-not-held"


class TenantMismatch(PermissionDenied):
    code = "wrong-tenant"


class NotAMember(PermissionDenied):
    code = "not-a-member"


class RoleChangeDenied(PermissionDenied):
    code = "role-change-denied"


# Invalid input (422) -----------------------------------------------------------------------------


class TenantRequired(InvalidInput):
    code = "tenant-required"


class WeakPassword(InvalidInput):
    code = "weak-password"


# Not found (404) and conflicts (409) -------------------------------------------------------------


class TenantNotFound(NotFound):
    code = "tenant-not-found"


class UserNotFound(NotFound):
    code = "user-not-found"


class MemberNotFound(NotFound):
    code = "member-not-found"


class ApiKeyNotFound(NotFound):
    code = "api-key-not-found"


class AlreadyExists(Conflict):
    code = "already-exists"


class LastOwner(Conflict):
    code = "last-owner"


class MfaAlreadyEnabled(Conflict):
    code = "mfa-already-enabled"


class MfaNotStarted(Conflict):
    code = "mfa-enrolment-not-started"
