"""Sign-in, tenants, members, API keys and the installation's own description."""

from __future__ import annotations

from datetime import datetime

from nsl_client.models.base import ApiModel


class TokenResponse(ApiModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    refresh_token: str | None
    refresh_expires_in: int | None
    tenant: str
    roles: list[str]
    scopes: list[str]
    #: True: the account must enrol TOTP first; this token only allows enrolment
    mfa_enrollment_required: bool


class TotpEnrollment(ApiModel):
    otpauth_uri: str


class TotpVerified(ApiModel):
    backup_codes: list[str]


class WhoAmI(ApiModel):
    tenant: str
    subject: str
    kind: str
    roles: list[str]
    scopes: list[str]


class Tenant(ApiModel):
    id: str
    name: str
    plan: str
    active: bool
    created_at: datetime


class Member(ApiModel):
    user_id: str
    username: str
    role: str
    created_at: datetime


class ApiKey(ApiModel):
    id: str
    prefix: str
    name: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    #: the whole key, shown once
    key: str


class SystemInfo(ApiModel):
    version: str
    environment: str
    schema_revision: str | None
    schema_head: str
    schema_current: bool
    tee_platform: str


class EnclaveCredentials(ApiModel):
    #: the enclave refuses every use of the tenant's keys that carries none of its own API keys
    enabled: bool
