"""``nsl randomness verify``: check a randomness answer off chain, with no server call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from neo_service_layer.kernel.commands import console, load_cli_settings

randomness_app = typer.Typer(no_args_is_help=True, help="Randomness service tools.")


@randomness_app.command("verify")
def randomness_verify(
    answer_file: Annotated[
        Path, typer.Argument(help="JSON answer (POST /api/v1/randomness or a request's proof)")
    ],
    bls_public_key: Annotated[
        str | None, typer.Option(help="BLS public key (hex); default: network.json")
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="ECDSA public key (hex); default: network.json")
    ] = None,
) -> None:
    """Check a randomness answer off chain (BLS proof, output, words, ECDSA signature); exit 1 if invalid."""
    from neo_service_layer.kernel.chain.adapters.network import NetworkFile
    from neo_service_layer.services.randomness.adapters.proofs import verify_randomness

    settings = load_cli_settings()
    try:
        answer = json.loads(answer_file.read_text())
        network = NetworkFile.read(settings.data_dir)
        published = network.service_keys if network else {}
        bls_key = bls_public_key or answer.get("blsPublicKey") or published.get("randomness_bls")
        ecdsa_key = public_key or answer.get("publicKey") or published.get("randomness_ecdsa")
        if not bls_key:
            raise ValueError("no BLS public key: pass --bls-public-key")
        signature = answer.get("signature")
        verdict = verify_randomness(
            request_id=int(answer["requestId"]),
            seed=bytes.fromhex(answer["seed"]),
            proof=bytes.fromhex(answer["proof"]),
            output=bytes.fromhex(answer["output"]),
            bls_public_key=bytes.fromhex(bls_key),
            words=[int(w) for w in answer["words"]] if answer.get("words") else None,
            signature=bytes.fromhex(signature) if signature else None,
            public_key=bytes.fromhex(ecdsa_key) if ecdsa_key and signature else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        console.print(f"[red]cannot read the answer:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(
        json.dumps(
            {
                "valid": verdict.ok,
                "proof": verdict.proof,
                "output": verdict.output,
                "words": verdict.words,
                "signature": verdict.signature,
            },
            indent=2,
        )
    )
    raise typer.Exit(0 if verdict.ok else 1)
