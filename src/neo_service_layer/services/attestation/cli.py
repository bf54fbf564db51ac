"""``nsl attest verify``: check an attestation report with no server call."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from neo_service_layer.enclave.attestation import verify_report
from neo_service_layer.kernel.cli_output import JsonAlways
from neo_service_layer.kernel.commands import console, load_cli_settings

attest_app = typer.Typer(no_args_is_help=True, help="Check enclave attestation reports.")


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
    as_json: JsonAlways = False,
) -> None:
    """Verify an attestation report; exit 1 and list the problems if it does not hold."""
    settings = load_cli_settings(check_production=False)
    try:
        nonce_bytes = bytes.fromhex(nonce)
        platform_keys = [bytes.fromhex(k) for k in platform_key or []]
        expected_keys = [bytes.fromhex(k) for k in expect_key or []]
    except ValueError as exc:
        console.print(f"[red]--nonce, --platform-key and --expect-key take hex:[/red] {exc}")
        raise typer.Exit(2) from exc
    local_key = settings.data_dir / "enclave" / "platform.pub"
    if accept_simulation and not platform_keys and local_key.exists():
        platform_keys.append(bytes.fromhex(local_key.read_text().strip()))
    try:
        report = json.loads(report_file.read_text())
        verdict = verify_report(
            report,
            nonce=nonce_bytes,
            allowed_measurements=measurement or settings.attest_allowed_measurements,
            accept_simulation=accept_simulation,
            simulation_platform_keys=platform_keys,
            expected_public_keys=expected_keys,
        )
    except (OSError, ValueError) as exc:
        console.print(f"[red]cannot read the report:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(dataclasses.asdict(verdict), indent=2))
    raise typer.Exit(0 if verdict.ok else 1)
