"""``nsl``: the command line of the service layer. Thin: parse, load settings, call one function."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from typing import Annotated

import typer
from pydantic import SecretStr

from neo_service_layer.bootstrap import chain_hooks, open_container, service_commands
from neo_service_layer.kernel.chain.cli import chain_commands
from neo_service_layer.kernel.cli_output import JsonFlag, emit_json
from neo_service_layer.kernel.commands import console, load_cli_settings
from neo_service_layer.kernel.config import Environment, Settings
from neo_service_layer.kernel.identity.cli import identity_commands

app = typer.Typer(no_args_is_help=True, help="Neo Service Layer: trusted off-chain services for Neo N3.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
app.add_typer(config_app, name="config")
for command in [
    *identity_commands(open_container),
    chain_commands(open_container, chain_hooks),
    *service_commands(open_container),
]:
    app.add_typer(command.app, name=command.name)


@app.command()
def serve(
    migrate: Annotated[
        bool | None, typer.Option(help="Migrate the database first (default: not in production).")
    ] = None,
) -> None:
    """Serve the HTTP API only: in one process per core when Redis is configured (NSL_HTTP_WORKERS)."""
    from neo_service_layer.bootstrap import create_app
    from neo_service_layer.kernel.http.server import available_cores, base_url, build_server, serve_processes

    settings = load_cli_settings()
    workers = settings.effective_http_workers(available_cores())
    url = base_url(settings)
    if workers == 1:
        server = build_server(settings, create_app(settings, migrate=migrate))
        console.print(f"API {url}/api/v1  docs {url}/docs  metrics {url}/metrics")
        server.run()
        return
    if migrate if migrate is not None else settings.should_auto_migrate:
        console.print(f"database at revision {asyncio.run(_upgrade_database(settings))}")
    console.print(f"API {url}/api/v1  docs {url}/docs  metrics {url}/metrics  ({workers} processes)")
    serve_processes(settings, "neo_service_layer.bootstrap:served_app", workers)


async def _upgrade_database(settings: Settings) -> str:
    """Apply every pending migration; the revision reached."""
    from neo_service_layer.kernel.db.engine import create_engine
    from neo_service_layer.kernel.db.migrate import upgrade_to_head

    engine = create_engine(settings)
    try:
        return await upgrade_to_head(engine)
    finally:
        await engine.dispose()


@app.command()
def worker() -> None:
    """Run the background worker (watchers, fulfilment, schedules)."""
    from neo_service_layer.bootstrap import run_worker

    settings = load_cli_settings()

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
    from neo_service_layer.enclave.__main__ import main

    # The enclave reads its own settings (no host configuration) and checks only its own production
    # rules (token, simulation allowance) when it starts; it exits 2 when it refuses to start.
    raise typer.Exit(main())


@app.command()
def migrate(as_json: JsonFlag = False) -> None:
    """Apply every pending database migration."""
    settings = load_cli_settings()
    revision = asyncio.run(_upgrade_database(settings))
    if as_json:
        emit_json({"revision": revision, "database": settings.masked_database_url})
        return
    console.print(f"database at revision {revision}")


@app.command()
def run() -> None:
    """Run everything on this machine on the embedded defaults, in the foreground, until Ctrl-C."""
    from neo_service_layer.kernel.chain.cli import local_chain_children
    from neo_service_layer.kernel.http.server import base_url
    from neo_service_layer.kernel.supervisor import ChildSpec, Supervisor, nsl_command

    settings = load_cli_settings()
    migrate()
    url = base_url(settings)
    # One token per enclave client and run, handed to the children through their environment only:
    # never printed, logged or written to disk, and other local users cannot read another user's
    # environ. The enclave gets all of them (NSL_ENCLAVE_CLIENTS); each child only its own, as its
    # NSL_ENCLAVE_TOKEN, and the enclave lets each client use only its own operations.
    tokens = {name: secrets.token_urlsafe(32) for name in ("api", "worker", "cli")}
    common = {"NSL_AUTO_MIGRATE": "false"}
    enclave_env = {**common, "NSL_ENCLAVE_CLIENTS": json.dumps(tokens), "NSL_ENCLAVE_TOKEN": ""}

    def client_env(name: str) -> dict[str, str]:
        return {**common, "NSL_ENCLAVE_TOKEN": tokens[name], "NSL_ENCLAVE_CLIENTS": ""}

    children = [
        ChildSpec("enclave", nsl_command("enclave"), env=enclave_env, ready=lambda: _enclave_ready(settings)),
        *local_chain_children(settings, client_env("cli")),  # provisioning: platform keys, deployment
        ChildSpec("worker", nsl_command("worker"), env=client_env("worker")),
        ChildSpec("api", nsl_command("serve", "--no-migrate"), env=client_env("api")),
    ]
    console.print(
        f"[bold]Neo Service Layer[/bold] ({settings.env.value}) data in {settings.data_dir.resolve()}\n"
        f"  API      {url}/api/v1\n  docs     {url}/docs\n  console  {url}/console/\n"
        f"  metrics  {url}/metrics\n"
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


@app.command("services")
def services(as_json: JsonFlag = False) -> None:
    """List the services this installation runs (the registry), in the order they are opened."""
    from neo_service_layer.registry import SERVICES

    if as_json:
        emit_json([{"name": service.name, "summary": service.summary} for service in SERVICES])
        return
    for service in SERVICES:
        typer.echo(f"{service.name:<15} {service.summary}")


@config_app.command("show")
def config_show(as_json: JsonFlag = False) -> None:
    """Print the effective configuration as JSON (``NSL_BACKUP_*`` under ``backup``), secrets masked,
    then what production refuses in it (also outside production: what would have to change first;
    with ``--json`` as ``production_would_refuse`` in the document, and nothing on stderr)."""
    from neo_service_layer.services.backup.adapters.settings import BackupSettings

    settings = load_cli_settings(check_production=False)
    shown = settings.masked()
    shown["effective_database_url"] = settings.masked_database_url
    try:
        backup = BackupSettings()
    except ValueError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    shown["backup"] = {
        name: ("********" if value.get_secret_value() else "") if isinstance(value, SecretStr) else value
        for name, value in backup.model_dump().items()
    }
    problems = settings.model_copy(update={"env": Environment.PRODUCTION}).production_problems()
    if as_json:
        emit_json({**shown, "production_would_refuse": problems})
        return
    typer.echo(json.dumps(shown, indent=2, default=str))
    if problems:
        label = "not accepted in production" if settings.is_production else "production would refuse"
        console.print(f"[yellow]{label}:[/yellow] " + "; ".join(problems))
