"""``nsl``: the command line of the service layer. Thin: parse, load settings, call one function."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Annotated

import typer
from rich.console import Console

from neo_service_layer.config import ConfigurationError, Settings, load_settings
from neo_service_layer.observability.logs import configure_logging

app = typer.Typer(no_args_is_help=True, help="Neo Service Layer: trusted off-chain services for Neo N3.")
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
app.add_typer(config_app, name="config")

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
    from neo_service_layer.entrypoints.http.server import base_url, build_server

    settings = _settings()
    server = build_server(settings, migrate=migrate)
    url = base_url(settings)
    console.print(f"API {url}/api/v1  docs {url}/docs  metrics {url}/metrics")
    server.run()


@app.command()
def worker() -> None:
    """Run the background worker (watchers, fulfilment, schedules)."""
    from neo_service_layer.entrypoints.worker.runner import run_worker

    settings = _settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(main())


@app.command()
def migrate() -> None:
    """Apply every pending database migration."""
    from neo_service_layer.adapters.db.engine import create_engine
    from neo_service_layer.adapters.db.migrate import upgrade_to_head

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
    from neo_service_layer.entrypoints.http.server import base_url
    from neo_service_layer.entrypoints.supervisor import ChildSpec, Supervisor, nsl_command

    settings = _settings()
    migrate()
    url = base_url(settings)
    children = [
        ChildSpec("worker", nsl_command("worker"), env={"NSL_AUTO_MIGRATE": "false"}),
        ChildSpec("api", nsl_command("serve", "--no-migrate")),
    ]
    console.print(
        f"[bold]Neo Service Layer[/bold] ({settings.env.value}) data in {settings.data_dir.resolve()}\n"
        f"  API      {url}/api/v1\n  docs     {url}/docs\n  metrics  {url}/metrics\n"
        f"  health   {url}/health/ready\nCtrl-C stops everything."
    )
    code = asyncio.run(Supervisor(children, grace_seconds=settings.shutdown_grace_seconds + 5).run())
    raise typer.Exit(code)


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
