"""``nsl admin``, ``nsl auth`` and ``nsl audit``: bootstrap and disabling accounts, signing-key rotation,
audit verification.

The groups are built by :func:`identity_commands` with the composition root's ``open_container``, so
the kernel never imports the root.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from neo_service_layer.enclave.wire.errors import DomainError
from neo_service_layer.kernel.cli_output import JsonFlag, emit_json
from neo_service_layer.kernel.commands import console, load_cli_settings
from neo_service_layer.kernel.container import OpenContainer
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind, Scopes
from neo_service_layer.kernel.identity.rules.accounts import PLATFORM_TENANT, SUPERADMIN
from neo_service_layer.kernel.identity.rules.audit import Actions, AuditRecord, Outcome
from neo_service_layer.kernel.service_descriptor import Command

if TYPE_CHECKING:
    from neo_service_layer.kernel.identity.use_cases.audit import ChainReport


def identity_commands(open_container: OpenContainer) -> tuple[Command, ...]:
    """The identity command groups; each command opens the process container with ``open_container``."""
    admin_app = typer.Typer(no_args_is_help=True, help="Administer the installation (accounts).")
    auth_app = typer.Typer(no_args_is_help=True, help="Authentication: access-token signing keys.")
    audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.")

    @admin_app.command("create-superadmin")
    def create_superadmin(
        username: Annotated[str, typer.Option(prompt=True, help="User name of the new superadmin.")],
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
        ] = False,
        as_json: JsonFlag = False,
    ) -> None:
        """Create a superadmin (there is no default account); the password is asked for or read from stdin."""
        settings = load_cli_settings()
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

        async def main() -> str:
            async with open_container(settings, "cli") as container:
                user = await container.iam.identity.create_superadmin(username, password)
                return user.id

        try:
            user_id = asyncio.run(main())
        except DomainError as exc:
            console.print(f"[red]refused:[/red] {exc}")
            raise typer.Exit(1) from exc
        if as_json:
            emit_json({"username": username, "user_id": user_id, "role": SUPERADMIN, "mfa_enrolled": False})
            return
        console.print(
            f"superadmin {username!r} created ({user_id}). Sign in, then enrol TOTP: "
            "until then the account's token only allows POST /api/v1/auth/mfa/totp/enroll."
        )

    @admin_app.command("disable-user")
    def disable_user(
        username: Annotated[str, typer.Option(help="User name of the account to disable.")],
        as_json: JsonFlag = False,
    ) -> None:
        """Disable an account: no more sign-ins; its sessions end and the API keys it created are revoked."""
        settings = load_cli_settings()
        operator = Principal(
            tenant_id=PLATFORM_TENANT,
            subject="cli",
            kind=PrincipalKind.USER,
            roles=frozenset({SUPERADMIN}),
            scopes=frozenset({Scopes.PLATFORM_ADMIN}),
        )

        async def main() -> str:
            async with open_container(settings, "cli") as container:
                user = await container.iam.identity.find_user(operator, username)
                await container.iam.identity.disable_user(operator, user.id)
                return user.id

        try:
            user_id = asyncio.run(main())
        except DomainError as exc:
            console.print(f"[red]refused:[/red] {exc}")
            raise typer.Exit(1) from exc
        if as_json:
            emit_json({"username": username, "user_id": user_id, "disabled": True})
            return
        console.print(f"user {username!r} ({user_id}) disabled; its sessions and API keys are revoked")

    @auth_app.command("rotate-signing-key")
    def rotate_signing_key(as_json: JsonFlag = False) -> None:
        """Make a new ES256 signing key active; older keys stay published until their tokens expire."""

        settings = load_cli_settings()

        async def main() -> str:
            async with open_container(settings, "cli") as container:
                kid = await container.iam.codec.rotate()
                await container.iam.audit_log.record(
                    AuditRecord(
                        tenant_id=PLATFORM_TENANT,
                        actor="cli",
                        action=Actions.SIGNING_KEY_ROTATE,
                        outcome=Outcome.SUCCESS,
                        target=f"kid:{kid}",
                    )
                )
                return kid

        kid = asyncio.run(main())
        if as_json:
            emit_json({"kid": kid, "algorithm": "ES256", "active": True})
            return
        console.print(f"new signing key {kid} is active")

    @audit_app.command("verify")
    def audit_verify(
        tenant: Annotated[
            str | None, typer.Option(help="Verify one tenant's chain (default: every chain).")
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Recompute the hash chains; exit 1 and name the first broken link when one does not hold."""

        settings = load_cli_settings()

        async def main() -> list[ChainReport]:
            async with open_container(settings, "cli") as container:
                return await container.iam.audit.verify(tenant)

        reports = asyncio.run(main())
        broken = [r for r in reports if r.broken is not None]
        if as_json:
            emit_json({"ok": not broken, "chains": [_chain_json(r) for r in reports]})
            raise typer.Exit(1 if broken else 0)
        for report in reports:
            state = "ok" if report.broken is None else "BROKEN"
            typer.echo(f"{report.tenant_id}\t{report.entries} entries\t{state}")
        for report in broken:
            assert report.broken is not None
            console.print(
                f"[red]first broken link:[/red] tenant {report.broken.tenant_id} entry {report.broken.seq}: "
                f"{report.broken.reason}"
            )
        raise typer.Exit(1 if broken else 0)

    return (Command("admin", admin_app), Command("auth", auth_app), Command("audit", audit_app))


def _chain_json(report: ChainReport) -> dict[str, object]:
    link = report.broken
    broken = None if link is None else {"seq": link.seq, "reason": link.reason}
    return {"tenant_id": report.tenant_id, "entries": report.entries, "ok": link is None, "broken": broken}
