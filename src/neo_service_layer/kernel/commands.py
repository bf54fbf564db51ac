"""What every ``nsl`` command group shares: the error console and settings loading with the
production checks, so each group refuses a bad configuration the same way (exit code 2)."""

from __future__ import annotations

import typer
from rich.console import Console

from neo_service_layer.kernel.config import ConfigurationError, Settings, load_settings
from neo_service_layer.kernel.observability.logs import configure_logging

console = Console(stderr=True, soft_wrap=True)


def load_cli_settings(*, check_production: bool = True) -> Settings:
    """The settings, with logging configured and the data directory made; exit 2 on a bad configuration."""
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
