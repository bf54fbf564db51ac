"""``nsl``: the command line of the service layer. Thin: parse, load settings, call one function."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from neo_service_layer.kernel.chain.cli import chain_app, randomness_app
from neo_service_layer.kernel.config import ConfigurationError, Settings, load_settings
from neo_service_layer.kernel.identity.cli import admin_app, audit_app, auth_app
from neo_service_layer.kernel.observability.logs import configure_logging
from neo_service_layer.services.backup.cli.backup import backup_app, dr_app
from neo_service_layer.services.keys.cli import register as register_key_migration

app = typer.Typer(no_args_is_help=True, help="Neo Service Layer: trusted off-chain services for Neo N3.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
app.add_typer(config_app, name="config")
attest_app = typer.Typer(no_args_is_help=True, help="Check enclave attestation reports.")
app.add_typer(attest_app, name="attest")
keys_app = typer.Typer(no_args_is_help=True, help="Enclave keys: rotation, migration between enclaves.")
register_key_migration(keys_app)
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")
app.add_typer(auth_app, name="auth")
app.add_typer(audit_app, name="audit")
app.add_typer(backup_app, name="backup")
app.add_typer(dr_app, name="dr")
app.add_typer(chain_app, name="chain")
app.add_typer(randomness_app, name="randomness")

console = Console(stderr=True, soft_wrap=True)


def _settings(*, check_production: bool = True) -> Settings:
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    problems = settings.production_problems() if check_production else []
    if problems:
        console.print("[red]NSL_ENV=production refuses these development-only settings:[/red]")
        for problem in problems:
            console.print(f"  - {problem}")
        raise typer.Exit(2)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level, settings.log_format)
    return settings


@app.command()
def serve(
    migrate: Annotated[
        bool | None, typer.Option(help="Migrate the database first (default: not in production).")
    ] = None,
) -> None:
    """Serve the HTTP API only."""
    from neo_service_layer.kernel.http.server import base_url, build_server

    settings = _settings()
    server = build_server(settings, migrate=migrate)
    url = base_url(settings)
    console.print(f"API {url}/api/v1  docs {url}/docs  metrics {url}/metrics")
    server.run()


@app.command()
def worker() -> None:
    """Run the background worker (watchers, fulfilment, schedules)."""
    from neo_service_layer.kernel.worker.runner import run_worker

    settings = _settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(main())


@app.command()
def enclave() -> None:
    """Run the enclave process: the only process that holds private keys and the sealing key."""
    from neo_service_layer.enclave.main import EnclaveStartupError, run_enclave

    # The enclave has no database or HTTP listener: it checks only its own production rules
    # (token, simulation allowance) when it starts.
    settings = _settings(check_production=False)
    try:
        run_enclave(settings, settings.enclave_tcp_address)
    except EnclaveStartupError as exc:
        console.print(f"[red]enclave refused to start:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def migrate() -> None:
    """Apply every pending database migration."""
    from neo_service_layer.kernel.db.engine import create_engine
    from neo_service_layer.kernel.db.migrate import upgrade_to_head

    settings = _settings()

    async def main() -> str:
        engine = create_engine(settings)
        try:
            return await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(main())
    console.print(f"database at revision {revision}")


@app.command()
def run() -> None:
    """Run everything on this machine on the embedded defaults, in the foreground, until Ctrl-C."""
    from neo_service_layer.kernel.chain.cli import local_chain_children
    from neo_service_layer.kernel.http.server import base_url
    from neo_service_layer.kernel.supervisor import ChildSpec, Supervisor, nsl_command

    settings = _settings()
    migrate()
    url = base_url(settings)
    # One token per run, handed to the children through their environment only: it is never
    # printed, logged or written to disk, and other local users cannot read another user's environ.
    token = settings.enclave_token.get_secret_value() if settings.enclave_token else secrets.token_urlsafe(32)
    shared = {"NSL_ENCLAVE_TOKEN": token, "NSL_AUTO_MIGRATE": "false"}
    children = [
        ChildSpec("enclave", nsl_command("enclave"), env=shared, ready=lambda: _enclave_ready(settings)),
        *local_chain_children(settings, shared),
        ChildSpec("worker", nsl_command("worker"), env=shared),
        ChildSpec("api", nsl_command("serve", "--no-migrate"), env=shared),
    ]
    console.print(
        f"[bold]Neo Service Layer[/bold] ({settings.env.value}) data in {settings.data_dir.resolve()}\n"
        f"  API      {url}/api/v1\n  docs     {url}/docs\n  metrics  {url}/metrics\n"
        f"  health   {url}/health/ready\nCtrl-C stops everything."
    )
    code = asyncio.run(Supervisor(children, grace_seconds=settings.shutdown_grace_seconds + 5).run())
    raise typer.Exit(code)


def _enclave_ready(settings: Settings) -> bool:
    """The enclave accepts connections on its configured socket (or loopback TCP address)."""
    import socket

    tcp = settings.enclave_tcp_address
    family = socket.AF_INET6 if tcp and ":" in tcp[0] else socket.AF_INET if tcp else socket.AF_UNIX
    with socket.socket(family) as probe:
        try:
            probe.connect(tcp or str(settings.effective_enclave_socket))
        except OSError:
            return False
    return True


@attest_app.command("verify")
def attest_verify(
    report_file: Annotated[
        Path, typer.Argument(help="JSON attestation report (from GET /api/v1/attestation)")
    ],
    nonce: Annotated[str, typer.Option(help="The hex nonce you asked the report for")],
    measurement: Annotated[
        list[str] | None, typer.Option(help="Allowed MRENCLAVE / measurement (hex)")
    ] = None,
    accept_simulation: Annotated[
        bool, typer.Option(help="Accept reports of the simulation platform")
    ] = False,
    platform_key: Annotated[
        list[str] | None, typer.Option(help="Trusted simulation platform public key (hex)")
    ] = None,
    expect_key: Annotated[list[str] | None, typer.Option(help="Public key (hex) that must be bound")] = None,
) -> None:
    """Verify an attestation report; exit 1 and list the problems if it does not hold."""
    from neo_service_layer.enclave.attestation import verify_report

    settings = _settings(check_production=False)
    platform_keys = [bytes.fromhex(k) for k in platform_key or []]
    local_key = settings.data_dir / "enclave" / "platform.pub"
    if accept_simulation and not platform_keys and local_key.exists():
        platform_keys.append(bytes.fromhex(local_key.read_text().strip()))
    try:
        report = json.loads(report_file.read_text())
        verdict = verify_report(
            report,
            nonce=bytes.fromhex(nonce),
            allowed_measurements=measurement or settings.attest_allowed_measurements,
            accept_simulation=accept_simulation,
            simulation_platform_keys=platform_keys,
            expected_public_keys=[bytes.fromhex(k) for k in expect_key or []],
        )
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read the report:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(dataclasses.asdict(verdict), indent=2))
    raise typer.Exit(0 if verdict.ok else 1)


@keys_app.command("rotate-due")
def keys_rotate_due(
    dry_run: Annotated[bool, typer.Option(help="Only list the keys that are due")] = False,
) -> None:
    """Rotate every active key older than NSL_KEY_MAX_AGE_DAYS (needs the enclave running)."""
    from neo_service_layer.bootstrap import open_container

    settings = _settings()

    async def main() -> list[dict[str, str | int]]:
        async with open_container(settings, "cli", migrate=False) as container:
            keys = container.vault.keys
            found = await (keys.rotation_due() if dry_run else keys.rotate_due())
        return [
            {"tenant_id": k.tenant_id, "key_id": k.key_id, "kind": k.kind.value, "version": k.current_version}
            for k in found
        ]

    result = asyncio.run(main())
    typer.echo(json.dumps({"rotated" if not dry_run else "due": result}, indent=2))
    console.print(f"{len(result)} key(s) {'due for rotation' if dry_run else 'rotated'}")


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration as JSON, secrets masked."""
    settings = _settings(check_production=False)
    shown = settings.masked()
    shown["effective_database_url"] = settings.masked_database_url
    typer.echo(json.dumps(shown, indent=2, default=str))
    problems = settings.production_problems()
    if problems:
        console.print("[yellow]not accepted in production:[/yellow] " + "; ".join(problems))
