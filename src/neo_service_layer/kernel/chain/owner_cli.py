"""``nsl chain owner ...``: owner operations on the service contracts (never signed with the sender).

With ``NSL_NEO_CONTRACT_OWNER`` set (a committee or multisig account on a real network) a command only
prints the script for the owner's signers (``OwnerCall.describe``); without it the development owner key
in the enclave signs it (``cli`` token) and the transaction is sent to the local chain.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from neo_service_layer.kernel.cli_output import JsonFlag, emit_json
from neo_service_layer.kernel.commands import console, load_cli_settings
from neo_service_layer.kernel.container import OpenContainer


def _argument(text: str) -> Any:
    """A contract argument from the command line: JSON (numbers, strings, booleans, null); a ``0x`` +
    40 hex string is a script hash, ``hex:...`` bytes."""
    from neo_service_layer.kernel.chain.adapters.neo_chain import uint160

    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, str) and value.startswith("hex:"):
        return bytes.fromhex(value[4:])
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return uint160(value)
    return value


def owner_commands(open_container: OpenContainer, enclave_settings: Callable[[Any], Any]) -> typer.Typer:
    """The ``owner`` group; ``enclave_settings(settings)`` is the chain CLI's context manager that reaches
    (or starts) an enclave for the ``cli`` client."""
    app = typer.Typer(no_args_is_help=True, help="Owner operations on the service contracts.")

    def run(name: str, build: Callable[[Any], Any], as_json: bool) -> None:
        from neo3.wallet import utils as wallet_utils

        from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
        from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
        from neo_service_layer.kernel.chain.adapters.network import NetworkConfigurationError, resolve_network
        from neo_service_layer.kernel.chain.adapters.owner_calls import send_as_owner
        from neo_service_layer.kernel.chain.adapters.service_keys import load_owner

        settings = load_cli_settings()
        try:
            network = resolve_network(settings)
        except NetworkConfigurationError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        if network is None or name not in network.contracts:
            console.print(f"[red]no contract {name!r} on the configured network[/red]")
            raise typer.Exit(2)
        call = build(uint160(network.contracts[name]))
        if settings.neo_contract_owner:
            try:
                owner = wallet_utils.address_to_script_hash(settings.neo_contract_owner)
            except ValueError as exc:
                console.print("[red]NSL_NEO_CONTRACT_OWNER is not a Neo N3 address[/red]")
                raise typer.Exit(2) from exc
            emit_json({"sign_elsewhere": call.describe(owner)})
            return

        async def send() -> str:
            async with enclave_settings(settings) as with_enclave, open_container(with_enclave, "cli") as c:
                owner = await load_owner(c.platform_keys)
                if owner is None:
                    raise typer.BadParameter("no development owner key: run `nsl chain up` first")
                facade = deploy.make_facade(network.rpc_urls[0], network.block_time)
                tx = await send_as_owner(facade, lambda: c.enclave, owner, call, timeout=60.0)
                return f"0x{tx}"

        try:
            tx_hash = _run(send())
        except (deploy.ScriptFault, deploy.TransactionFailed) as exc:
            console.print(f"[red]refused: {exc.exception}[/red]")
            raise typer.Exit(1) from exc
        document = {"contract": name, "method": call.method, "tx": tx_hash}
        if as_json:
            emit_json(document)
        else:
            typer.echo(json.dumps(document))

    @app.command("call")
    def owner_call_command(
        contract: Annotated[str, typer.Argument(help="contract name in network.json, e.g. randomness")],
        method: Annotated[str, typer.Argument(help="e.g. setFee, pause, scheduleDestroy, withdrawFees")],
        args: Annotated[
            list[str] | None, typer.Argument(help="JSON values; 0x... hash; hex:... bytes")
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Run an owner method of a service contract as the owner."""
        from neo_service_layer.kernel.chain.adapters.owner_calls import owner_call

        values = [_argument(a) for a in args or []]
        run(contract, lambda hash_: owner_call(hash_, method, values), as_json)

    @app.command("schedule-update")
    def schedule_update(
        contract: Annotated[str, typer.Argument(help="contract name in network.json")],
        nef: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        manifest: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        as_json: JsonFlag = False,
    ) -> None:
        """Announce an update to exactly this NEF and manifest (applied after ``updateDelay()`` blocks)."""
        from neo_service_layer.kernel.chain.adapters.owner_calls import schedule_update_call

        run(contract, lambda hash_: schedule_update_call(hash_, nef, manifest), as_json)

    @app.command("update")
    def update(
        contract: Annotated[str, typer.Argument(help="contract name in network.json")],
        nef: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        manifest: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        as_json: JsonFlag = False,
    ) -> None:
        """Apply the scheduled update (the same NEF and manifest, once the delay has passed)."""
        from neo_service_layer.kernel.chain.adapters.owner_calls import update_call

        run(contract, lambda hash_: update_call(hash_, nef, manifest), as_json)

    return app


def _run(coroutine: Coroutine[Any, Any, str]) -> str:
    return asyncio.run(coroutine)
