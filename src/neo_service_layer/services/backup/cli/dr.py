"""``nsl dr plan``: the disaster-recovery runbook in the terminal (assessment, then a guided restore)."""

from __future__ import annotations

import json
from datetime import timedelta

from rich.console import Console
from rich.prompt import Confirm, Prompt
from rich.table import Table

from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.db.engine import create_engine
from neo_service_layer.services.backup.adapters.probes import probe_chain, probe_database, probe_enclave
from neo_service_layer.services.backup.adapters.settings import BackupSettings
from neo_service_layer.services.backup.rules.disaster_recovery import Assessment, Objectives
from neo_service_layer.services.backup.use_cases.backup import BackupService
from neo_service_layer.services.backup.use_cases.disaster_recovery import gather

console = Console(soft_wrap=True)


def objectives(backup: BackupSettings) -> Objectives:
    return Objectives(
        rpo=timedelta(hours=backup.rpo_hours),
        rto=timedelta(minutes=backup.rto_minutes),
        verify_every=timedelta(days=backup.verify_interval_days),
    )


async def assess_now(
    settings: Settings, backup: BackupSettings, service: BackupService, rpc_url: str | None
) -> Assessment:
    """Probe the database, enclave, chain RPC and backup target; read the backup catalogue."""
    engine = create_engine(settings)
    local = backup.local_dir(settings.data_dir).resolve()
    on_machine = backup.target == "local" and local.is_relative_to(settings.data_dir.resolve())
    try:
        return await gather(
            service,
            [
                lambda: probe_database(engine),
                lambda: probe_enclave(settings.effective_enclave_socket),
                lambda: probe_chain(rpc_url),
            ],
            SystemClock(),
            objectives(backup),
            backups_on_this_machine=on_machine,
        )
    finally:
        await engine.dispose()


def show(assessment: Assessment) -> None:
    table = Table("component", "status", "detail", title="Reachability")
    for probe in assessment.facts.probes:
        status = {True: "[green]up[/green]", False: "[red]DOWN[/red]", None: "[dim]n/a[/dim]"}[probe.ok]
        table.add_row(probe.name, status, probe.detail)
    console.print(table)
    age = assessment.backup_age()
    facts = assessment.facts
    rpo = "[green]met[/green]" if assessment.rpo_met else "[red]NOT met[/red]"
    console.print(
        f"newest backup: {facts.newest_backup_id or 'none'}"
        + (f" ({age} old)" if age is not None else "")
        + f"; RPO {assessment.objectives.rpo}: {rpo}"
    )
    estimate = facts.last_restore_seconds
    rto = "unknown (no verified backup)" if estimate is None else f"last measured restore {estimate:.1f} s"
    console.print(
        f"newest verified: {facts.newest_verified_id or 'none'}; RTO {assessment.objectives.rto}: {rto}"
    )
    for action in assessment.actions:
        console.print(f"[yellow]action:[/yellow] {action}")
    if not assessment.actions:
        console.print("[green]nothing to do[/green]")


async def run_plan(
    settings: Settings,
    backup: BackupSettings,
    service: BackupService,
    rpc_url: str | None,
    *,
    interactive: bool,
) -> int:
    """Return the exit code: 0 when nothing needs doing (or the guided restore succeeded), else 1."""
    assessment = await assess_now(settings, backup, service, rpc_url)
    if not interactive:
        print(json.dumps(assessment.to_json(), indent=2))
        return 1 if assessment.needs_action else 0
    show(assessment)
    code = 1 if assessment.needs_action else 0
    if assessment.facts.newest_backup_id is None:
        return code
    question = "Restore is recommended. Start the guided restore?"
    if not assessment.restore_recommended:
        question = "No restore is needed. Walk through a restore anyway?"
    if not Confirm.ask(question, default=assessment.restore_recommended):
        return code
    return await guided_restore(settings, service, assessment)


async def guided_restore(settings: Settings, service: BackupService, assessment: Assessment) -> int:
    facts = assessment.facts
    default = facts.newest_verified_id or facts.newest_backup_id or ""
    chosen = Prompt.ask("Backup to restore", default=default)
    console.print(f"[bold]Step 1/3[/bold]: verify {chosen} in a scratch database (changes nothing).")
    if Confirm.ask("Verify now?", default=True):
        report = await service.verify(chosen)
        for check in report.checks:
            console.print(f"  {'ok' if check.ok else 'FAILED'}  {check.name}: {check.detail}")
        if not report.ok:
            console.print("[red]verification failed: pick another backup[/red]")
            return 1
    console.print(
        "[bold]Step 2/3[/bold]: stop the API and the workers (e.g. `kubectl scale deploy --replicas=0`, "
        "or stop `nsl run`). Nothing may write to the database during the switch-over."
    )
    if not Confirm.ask("Are they stopped?", default=False):
        console.print("stopped here; nothing was changed")
        return 1
    empty = facts.database_empty is not False
    console.print(
        f"[bold]Step 3/3[/bold]: restore {chosen} into {settings.masked_database_url}. "
        "The current database is kept aside, then replaced. [red]This is destructive.[/red]"
    )
    if not Confirm.ask("Restore now?", default=False):
        console.print("stopped here; nothing was changed")
        return 1
    if not empty and not Confirm.ask("The database holds data. Replace it anyway?", default=False):
        console.print("stopped here; nothing was changed")
        return 1
    result = await service.restore(chosen, force=not empty)
    console.print(f"[green]restored {chosen} in {result.seconds:.1f} s[/green]; {result.previous}")
    for path in result.installed_files:
        console.print(f"enclave file written: {path}")
    console.print("Start the services again, then run `nsl dr plan` to confirm.")
    return 0
