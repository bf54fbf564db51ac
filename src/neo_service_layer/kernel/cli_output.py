"""What every ``nsl`` command that prints results shares: ``--json`` (exactly one JSON document on stdout,
no markup, no progress) and progress bars for long work, on stderr and only when stderr is a terminal,
so scripts and pipes see the same bytes as before."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print exactly one JSON document on stdout (no text, no progress).")
]

#: for a command whose result is always one JSON document on stdout: ``--json`` is accepted, changes nothing
JsonAlways = Annotated[
    bool, typer.Option("--json", help="Accepted everywhere; this command always prints one JSON document.")
]

#: told how far a long step is: ``done`` units so far, out of ``total`` when known
Report = Callable[[int, int | None], None]


def emit_json(document: Any) -> None:
    """Print ``document`` as the one JSON document of the command's stdout."""
    typer.echo(json.dumps(document, indent=2, default=str))


def progress_wanted(as_json: bool = False) -> bool:
    """Progress is drawn only for a person: stderr is a terminal and no JSON was asked for."""
    return not as_json and sys.stderr.isatty()


def _ignore(done: int, total: int | None) -> None:
    """The report of a command whose progress nobody watches."""


@contextmanager
def progress(description: str, *, unit: str = "bytes", enabled: bool = True) -> Iterator[Report]:
    """A transient bar on stderr for ``description``, fed by the yielded ``report(done, total)``; with
    ``enabled`` false or stderr not a terminal nothing is drawn (and no escape code is written)."""
    if not (enabled and sys.stderr.isatty()):
        yield _ignore
        return
    counts: Sequence[ProgressColumn] = (
        (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(),)
    )
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        *counts,
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=None)

        def report(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield report


def summary(title: str, rows: Sequence[tuple[str, object]], *, console: Console | None = None) -> None:
    """A readable end-of-command summary: ``title``, then one aligned ``name  value`` line per fact,
    never wrapped or cut (ids and hashes stay whole and copyable)."""
    target = console or Console(soft_wrap=True)
    if title:
        target.print(f"[bold]{title}[/bold]")
    pad = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        target.print(f"{name:<{pad}}  {value}", markup=False, highlight=False, soft_wrap=True)


def size_text(size: int) -> str:
    """``size`` bytes for a person: ``12,345 bytes (12.1 KiB)``."""
    value, unit = float(size), "bytes"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size:,} bytes" + ("" if unit == "bytes" else f" ({value:.1f} {unit})")
