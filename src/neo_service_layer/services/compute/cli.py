"""``nsl compute verify``: check a run's receipt off chain, with no server call."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.cli_output import JsonAlways
from neo_service_layer.kernel.commands import console, load_cli_settings

compute_app = typer.Typer(no_args_is_help=True, help="Compute service tools.")


@compute_app.command("verify")
def compute_verify(
    run_file: Annotated[
        Path, typer.Argument(help="JSON of a run (POST .../runs answer) or of its receipt alone")
    ],
    public_key: Annotated[
        str | None, typer.Option(help="the compute key (hex); default: network.json's service_keys.compute")
    ] = None,
    result_file: Annotated[
        Path | None,
        typer.Option("--result", help="file with the result bytes; default: the run's resultBase64"),
    ] = None,
    input_file: Annotated[Path | None, typer.Option("--input", help="JSON file with the run's input")] = None,
    as_json: JsonAlways = False,
) -> None:
    """Check a receipt's signature by the compute key, and that the result (and input) are the signed
    ones; exit 1 if not."""
    from neo_service_layer.kernel.chain.adapters.network import NetworkFile
    from neo_service_layer.services.compute.rules import input_text
    from neo_service_layer.services.compute.use_cases.receipts import Receipt, verify_receipt

    settings = load_cli_settings()
    try:
        document = json.loads(run_file.read_text())
        receipt = Receipt.from_dict(document.get("receipt", document))
        network = NetworkFile.read(settings.data_dir)
        trusted = public_key or (network.service_keys.get("compute") if network else None)
        if not trusted:
            raise ValueError("no compute key: pass --public-key (or run where network.json is)")
        result: bytes | None = None
        if result_file is not None:
            result = result_file.read_bytes()
        elif isinstance(document.get("resultBase64"), str):
            result = base64.b64decode(document["resultBase64"], validate=True)
        signed_input = input_text(json.loads(input_file.read_text())) if input_file is not None else None
        verdict = verify_receipt(receipt, [bytes.fromhex(trusted)], result=result, input_text=signed_input)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidInput) as exc:
        console.print(f"[red]cannot read the receipt:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(
        json.dumps(
            {
                "valid": verdict.valid,
                "problems": verdict.problems,
                "resultChecked": result is not None,
                "inputChecked": signed_input is not None,
            },
            indent=2,
        )
    )
    raise typer.Exit(0 if verdict.valid else 1)
