"""Two-factor sign-in (TOTP): enrolment of the signed-in user, and the secrets' labels and backup codes.

Enrolment is two steps: start (a new secret, sealed as *pending*, shown once as an ``otpauth://`` URI)
and confirm (a first valid code activates it and yields single-use backup codes, stored as keyed hashes).
Checking a code at sign-in is part of sign-in.
"""

from __future__ import annotations

import secrets

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.identity.ports.audit import AuditLog
from neo_service_layer.kernel.identity.ports.identity import (
    IdentityUnitOfWorkFactory,
    SecretBox,
    TotpAuthenticator,
)
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.accounts import User
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome, RequestMeta
from neo_service_layer.kernel.identity.rules.errors import (
    InvalidMfaCode,
    InvalidToken,
    MfaAlreadyEnabled,
    MfaNotStarted,
)

BACKUP_CODE_COUNT = 10
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def totp_label(user_id: str) -> str:
    return f"totp:{user_id}"


def normalise_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


class TotpEnrolment:
    def __init__(
        self,
        *,
        uow: IdentityUnitOfWorkFactory,
        box: SecretBox,
        totp: TotpAuthenticator,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._box = box
        self._totp = totp
        self._audit = audit
        self._clock = clock

    async def start_totp(self, principal: Principal, *, meta: RequestMeta = RequestMeta()) -> str:
        """Begin TOTP enrolment; return the ``otpauth://`` URI (the only time the secret is shown)."""
        user = await self._signed_in_user(principal)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled("two-factor sign-in is enabled already")
        secret = self._totp.new_secret()
        async with self._uow(None) as uow:
            pending = self._box.seal(totp_label(user.id), secret.encode())
            await uow.users.set_totp(user.id, secret=None, pending=pending, last_step=0)
            await uow.commit()
        await self._mfa_audit(principal, Actions.MFA_ENROLL, Outcome.SUCCESS, meta)
        return self._totp.provisioning_uri(secret, user.username)

    async def confirm_totp(
        self, principal: Principal, code: str, *, meta: RequestMeta = RequestMeta()
    ) -> list[str]:
        """Activate TOTP with a first valid code; return 10 single-use backup codes (shown once)."""
        user = await self._signed_in_user(principal)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled("two-factor sign-in is enabled already")
        if user.totp_pending is None:
            raise MfaNotStarted("start enrolment first (POST .../totp/enroll)")
        secret = self._box.open(totp_label(user.id), user.totp_pending).decode()
        step = self._totp.matching_step(secret, code.strip(), self._clock.now())
        if step is None:
            await self._mfa_audit(principal, Actions.MFA_ENABLED, Outcome.FAILURE, meta)
            raise InvalidMfaCode("the code does not match; check the authenticator's clock")
        codes = [
            "".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(10)) for _ in range(BACKUP_CODE_COUNT)
        ]
        async with self._uow(None) as uow:
            await uow.users.set_totp(user.id, secret=user.totp_pending, pending=None, last_step=step)
            await uow.users.replace_backup_codes(
                user.id, [self._box.mac("backup-code", f"{user.id}:{c}") for c in codes]
            )
            await uow.commit()
        await self._mfa_audit(principal, Actions.MFA_ENABLED, Outcome.SUCCESS, meta)
        return [f"{c[:5]}-{c[5:]}" for c in codes]

    async def _signed_in_user(self, principal: Principal) -> User:
        if principal.kind is not PrincipalKind.USER:
            raise InvalidInput("only a signed-in user can enrol two-factor sign-in")
        async with self._uow(None) as uow:
            user = await uow.users.get(principal.subject)
        if user is None or user.disabled:
            raise InvalidToken("the account of this token no longer exists")
        return user

    async def _mfa_audit(
        self, principal: Principal, action: str, outcome: Outcome, meta: RequestMeta
    ) -> None:
        await self._audit.record(
            AuditRecord(
                tenant_id=principal.tenant_id,
                actor=principal.actor,
                action=action,
                outcome=outcome,
                target=f"user:{principal.subject}",
                request_id=meta.request_id,
                client_ip=meta.client_ip,
            )
        )
