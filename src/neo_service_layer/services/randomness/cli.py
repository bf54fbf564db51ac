"""``nsl randomness verify``: check a randomness answer off chain, with no server call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.cli_output import JsonAlways
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
    magic: Annotated[
        int | None,
        typer.Option(help="network magic of the answer; default: the answer's, else network.json"),
    ] = None,
    contract_hash: Annotated[
        str | None,
        typer.Option("--contract", help="randomness contract (0x); default: the answer's, else network.json"),
    ] = None,
    consumer_hash: Annotated[
        str | None,
        typer.Option("--consumer", help="the request's consumer (0x hash); default: the answer's"),
    ] = None,
    as_json: JsonAlways = False,
) -> None:
    """Check a randomness answer off chain (BLS proof, output, words, ECDSA signature); exit 1 if invalid."""
    from neo_service_layer.kernel.chain.adapters.network import NetworkFile
    from neo_service_layer.services.randomness.adapters.proofs import verify_randomness
    from neo_service_layer.services.randomness.rules import RandomnessFacts, script_hash_bytes

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
        contract = (
            contract_hash
            or answer.get("contract")
            or (network.contracts.get("randomness") if network else None)
        )
        if magic is None:
            magic = answer.get("networkMagic", network.magic if network else None)
        if magic is None:
            raise ValueError("no network magic: pass --magic (off-chain answers carry networkMagic)")
        if not contract:
            raise ValueError("no contract: pass --contract (off-chain answers carry contract)")
        consumer = consumer_hash or answer.get("consumer")
        if not consumer:
            raise ValueError("no consumer: pass --consumer (off-chain answers carry consumer)")
        facts = RandomnessFacts(
            magic=int(magic),
            contract=script_hash_bytes(contract),
            request_id=int(answer["requestId"]),
            consumer=script_hash_bytes(consumer),
            seed=bytes.fromhex(answer["seed"].removeprefix("0x")),
        )
        verdict = verify_randomness(
            facts=facts,
            proof=bytes.fromhex(answer["proof"]),
            output=bytes.fromhex(answer["output"]),
            bls_public_key=bytes.fromhex(bls_key),
            words=[int(w) for w in answer["words"]] if answer.get("words") else None,
            signature=bytes.fromhex(signature) if signature else None,
            public_key=bytes.fromhex(ecdsa_key) if ecdsa_key and signature else None,
        )
    except (OSError, ValueError, KeyError, TypeError, InvalidInput) as exc:
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
