"""``nsl backup ...`` and ``nsl dr plan``: thin commands over the backup service.

Mounted by the main CLI with ``app.add_typer(backup_app, name="backup")`` and
``app.add_typer(dr_app, name="dr")``. Errors of the domain are printed in one red line and give
exit code 1; bad configuration gives exit code 2. No key or password is ever printed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from neo_service_layer.kernel.cli_output import JsonFlag, emit_json, progress, progress_wanted, summary
from neo_service_layer.kernel.config import ConfigurationError, Settings, load_settings
from neo_service_layer.services.backup.adapters.checks import restore_checks
from neo_service_layer.services.backup.adapters.factory import build_backup_service, retention_policy
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.cli import documents
from neo_service_layer.services.backup.rules.backup import BackupError
from neo_service_layer.services.backup.use_cases.backup import BackupService

backup_app = typer.Typer(
    no_args_is_help=True, help="Encrypted backups: create, list, verify, restore, prune."
)
dr_app = typer.Typer(no_args_is_help=True, help="Disaster recovery runbook.")
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def load() -> tuple[Settings, BackupSettings]:
    """Settings of the service and of backups; exit 2 when they are invalid."""
    try:
        return load_settings(), BackupSettings()
    except (ConfigurationError, ValueError) as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def open_service(settings: Settings, backup: BackupSettings) -> BackupService:
    try:
        return build_backup_service(settings, backup, checks=restore_checks(settings))
    except BackupError as exc:
        console.print(f"[red]backup configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def run[T](work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; a domain error becomes one red line and exit code 1."""
    try:
        return asyncio.run(work)
    except BackupError as exc:
        console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(1) from exc


async def resolve(service: BackupService, backup_id: str) -> tuple[str, int | None]:
    """``latest`` means the newest backup; returns the id and the archive size when known."""
    backups = await service.list_backups()
    if backup_id == "latest":
        if not backups:
            raise BackupError("there is no backup yet")
        return backups[-1].backup_id, backups[-1].size
    sizes = {b.backup_id: b.size for b in backups}
    return backup_id, sizes.get(backup_id)


@backup_app.command("create")
def create(
    prune: Annotated[bool, typer.Option(help="Apply the retention policy afterwards.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Take a backup of the database, sealed enclave state and masked configuration."""
    settings, backup = load()
    service = open_service(settings, backup)

    async def main() -> dict[str, Any]:
        with progress("backing up", enabled=progress_wanted(as_json)) as report:
            result = await service.create(progress=report)
        decision = await service.prune(retention_policy(backup)) if prune else None
        return documents.created(result, service.target.description, decision)

    document = run(main())
    if as_json:
        emit_json(document)
        return
    summary("backup created", documents.created_rows(document), console=out)


@backup_app.command("list")
def list_backups(as_json: JsonFlag = False) -> None:
    """List backups in the target, oldest first."""
    settings, backup = load()
    service = open_service(settings, backup)
    backups = run(service.list_backups())
    if as_json:
        emit_json(documents.listed(backups))
        return
    table = Table("backup", "created (UTC)", "size", "verified")
    for b in backups:
        verified = b.verified_at.strftime("%Y-%m-%d %H:%M") if b.verified_at else "-"
        table.add_row(b.backup_id, b.created_at.strftime("%Y-%m-%d %H:%M:%S"), f"{b.size:,}", verified)
    out.print(table)


@backup_app.command("verify")
def verify(
    backup_id: Annotated[str, typer.Argument(help="A backup id, or 'latest'.")], as_json: JsonFlag = False
) -> None:
    """Decrypt, check every hash, restore into a scratch database and run the integrity checks."""
    settings, backup = load()
    service = open_service(settings, backup)

    async def main() -> dict[str, Any]:
        chosen, size = await resolve(service, backup_id)
        with progress(f"verifying {chosen}", enabled=progress_wanted(as_json)) as report:
            return documents.verified(await service.verify(chosen, report), size)

    document = run(main())
    if as_json:
        emit_json(document)
    else:
        table = Table("check", "result", "detail")
        for check in document["checks"]:
            table.add_row(check["name"], _verdict(check["ok"], check["detail"]), check["detail"])
        out.print(table)
        state = "verified" if document["ok"] else "NOT verified"
        out.print(f"{document['backup_id']}: {state} in {document['seconds']:.2f} s")
    if not document["ok"]:
        raise typer.Exit(1)


def _verdict(ok: bool, detail: str) -> str:
    if ok and detail.startswith("skipped"):
        return "[yellow]skipped[/yellow]"
    return "[green]ok[/green]" if ok else "[red]FAILED[/red]"


@backup_app.command("restore")
def restore(
    backup_id: Annotated[str, typer.Argument(help="A backup id, or 'latest'.")],
    force: Annotated[bool, typer.Option(help="Replace a database that holds data.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Restore into a new database, check it, then switch over. Stop the API and workers first."""
    settings, backup = load()
    service = open_service(settings, backup)

    async def main() -> dict[str, Any]:
        chosen, size = await resolve(service, backup_id)
        with progress(f"restoring {chosen}", enabled=progress_wanted(as_json)) as report:
            result = await service.restore(chosen, force=force, progress=report)
        return documents.restored(result, settings.masked_database_url, size)

    document = run(main())
    if as_json:
        emit_json(document)
        return
    summary("backup restored", documents.restored_rows(document), console=out)
    out.print(document["previous"])
    for check in document["checks"]:
        if not check["ok"]:
            out.print(f"[yellow]check {check['name']} (not blocking) failed:[/yellow] {check['detail']}")
    for path in document["installed_files"]:
        out.print(f"enclave file written: {path}")


@backup_app.command("prune")
def prune(
    dry_run: Annotated[bool, typer.Option(help="Only show what would be deleted.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Apply the retention policy (the newest verified backup is always kept)."""
    settings, backup = load()
    service = open_service(settings, backup)
    decision = run(service.prune(retention_policy(backup), dry_run=dry_run))
    if as_json:
        emit_json(documents.pruned(decision, dry_run))
        return
    for backup_id, reason in decision.delete.items():
        out.print(f"{'would delete' if dry_run else 'deleted'} {backup_id} ({reason})")
    out.print(f"kept {len(decision.keep)}, {'would delete' if dry_run else 'deleted'} {len(decision.delete)}")


@backup_app.command("wal-push")
def wal_push(
    path: Annotated[Path, typer.Argument(help="The file to push (archive_command's %p).", exists=True)],
    name: Annotated[str | None, typer.Option(help="Name in the target (default: the file name).")] = None,
) -> None:
    """Encrypt one WAL segment (or base backup file) into the target's ``wal/`` area."""
    from neo_service_layer.services.backup.cli.wal import push

    settings, backup = load()
    run(push(settings, backup, path, name))


@backup_app.command("wal-fetch")
def wal_fetch(
    name: Annotated[str, typer.Argument(help="Name in the target (restore_command's %f).")],
    destination: Annotated[Path, typer.Argument(help="Where to write it (restore_command's %p).")],
) -> None:
    """Fetch and decrypt one file pushed with ``wal-push`` (exit 1 when it does not exist)."""
    from neo_service_layer.services.backup.cli.wal import fetch

    settings, backup = load()
    run(fetch(settings, backup, name, destination))


@dr_app.command("plan")
def plan(
    non_interactive: Annotated[
        bool,
        typer.Option("--non-interactive", help="Print the assessment as JSON; exit 1 if action is needed."),
    ] = False,
    rpc_url: Annotated[
        str | None, typer.Option(envvar="NSL_NEO_RPC_URL", help="Chain RPC endpoint to probe.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The same as --non-interactive.")] = False,
) -> None:
    """Assess what is reachable and how fresh the backups are, then walk through a restore."""
    from neo_service_layer.services.backup.cli.dr import run_plan

    settings, backup = load()
    service = open_service(settings, backup)
    interactive = not (non_interactive or as_json)
    code = run(run_plan(settings, backup, service, rpc_url, interactive=interactive))
    raise typer.Exit(code)
