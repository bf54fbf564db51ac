"""``nsl chain ...``: the local Neo N3 chain for development (start, provision, fund, stop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from neo_service_layer.kernel.chain.adapters.provisioning import ChainHooks
from neo_service_layer.kernel.chain.owner_cli import owner_commands
from neo_service_layer.kernel.cli_output import (
    JsonFlag,
    Report,
    emit_json,
    progress,
    progress_wanted,
    summary,
)
from neo_service_layer.kernel.commands import console, load_cli_settings
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.container import OpenContainer
from neo_service_layer.kernel.service_descriptor import Command

READY_MARKER = "chain-node.ready"


def _enclave_answers(settings: Settings) -> bool:
    tcp = settings.enclave_tcp_address
    family = socket.AF_INET if tcp else socket.AF_UNIX
    with socket.socket(family) as probe:
        try:
            probe.connect(tcp or str(settings.effective_enclave_socket))
        except OSError:
            return False
    return True


@contextlib.asynccontextmanager
async def _enclave(settings: Settings) -> AsyncIterator[Settings]:
    """Settings that reach a running enclave: the configured one, or a temporary child process."""
    if settings.enclave_token is not None and _enclave_answers(settings):
        yield settings
        return
    token = secrets.token_urlsafe(32)  # a temporary enclave that knows this command as its cli client
    env = {
        **os.environ,
        "NSL_ENCLAVE_CLIENTS": json.dumps({"cli": token}),
        "NSL_ENCLAVE_TOKEN": "",
        "NSL_DATA_DIR": str(settings.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "neo_service_layer", "enclave", env=env, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not _enclave_answers(settings):
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("the enclave did not start (see its output above)")
            await asyncio.sleep(0.05)
        from pydantic import SecretStr

        yield settings.model_copy(update={"enclave_token": SecretStr(token)})
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _provision(
    settings: Settings,
    net: Any,
    open_container: OpenContainer,
    hooks: Sequence[ChainHooks],
    report: Report | None = None,
) -> Any:
    from neo_service_layer.kernel.chain.adapters.local_chain import provision

    async with _enclave(settings) as with_enclave, open_container(with_enclave, "cli") as container:
        return await provision(
            with_enclave, net, container.enclave, container.platform_keys, container.clock, hooks, report
        )


async def _provision_evm(
    settings: Settings, open_container: OpenContainer, hooks: Sequence[ChainHooks]
) -> tuple[Any, dict[str, Any]]:
    """Start the local Neo X chain (anvil) and deploy the services' Solidity contracts on it."""
    from neo_service_layer.kernel.chain.adapters.evm_local import LocalAnvil, provision_evm
    from neo_service_layer.kernel.chain.adapters.local_chain import chain_dir
    from neo_service_layer.kernel.chain.adapters.network import NetworkFile

    file = NetworkFile.read(settings.data_dir)
    earlier = urlsplit(str(file.neox.get("rpc_url") or "")).port if file is not None else None
    anvil = LocalAnvil(chain_dir(settings) / "neox", port=earlier)  # the same URL for running processes
    await anvil.start()
    try:
        async with _enclave(settings) as with_enclave, open_container(with_enclave, "cli") as container:
            neox = await provision_evm(
                settings.data_dir, anvil.url, anvil.chain_id,
                container.platform_keys, container.enclave, container.clock, hooks,
            )  # fmt: skip
    except BaseException:
        await anvil.stop()
        raise
    return anvil, neox


async def _link(settings: Settings, open_container: OpenContainer, hooks: Sequence[ChainHooks]) -> None:
    """Run the services' ``link`` hooks once both local chains are provisioned."""
    from neo_service_layer.kernel.chain.adapters.network import NetworkFile
    from neo_service_layer.kernel.chain.adapters.provisioning import LinkContext

    if not hooks:
        return
    file = NetworkFile.read(settings.data_dir)
    if file is None:
        raise RuntimeError("network.json is missing after provisioning")
    async with _enclave(settings) as with_enclave, open_container(with_enclave, "cli") as container:
        context = LinkContext(
            settings, asdict(file), container.platform_keys, container.enclave, container.clock
        )
        for hook in hooks:
            assert hook.link is not None
            await hook.link(context)


def chain_commands(open_container: OpenContainer, hooks: Callable[[], Sequence[ChainHooks]]) -> Command:
    """``nsl chain``; provisioning deploys what ``hooks()`` (the registered services' chain hooks) ask for."""
    chain_app = typer.Typer(no_args_is_help=True, help="The local Neo N3 chain (development).")

    @chain_app.command("up")
    def chain_up(as_json: JsonFlag = False) -> None:
        """Start the local chain in the background, deploy the service contracts once, print network.json
        (with ``--json``: one document with the chain's process, what was deployed and network.json)."""
        from neo_service_layer.kernel.chain.adapters.local_chain import ContractsNotBuilt, privnet_for
        from neo_service_layer.kernel.chain.adapters.network import NetworkFile

        settings = load_cli_settings()
        shown = progress_wanted(as_json)
        started = time.perf_counter()

        async def main() -> dict[str, Any]:
            net = privnet_for(settings)
            attached = net.from_data_dir(net.data_dir)
            if attached.is_running():
                net = attached
            else:
                with progress("starting the local chain", unit="steps", enabled=shown):
                    await net.start(detach=True)
            try:
                with progress("deploying contracts", unit="contracts", enabled=shown) as report:
                    result = await _provision(settings, net, open_container, hooks(), report)
            except ContractsNotBuilt as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(2) from exc
            return {
                "rpc_url": net.rpc_url,
                "pid": net.pid,
                "deployed": result.deployed,
                "new_contracts": list(result.new_contracts),
                "seconds": round(time.perf_counter() - started, 3),
            }

        facts = asyncio.run(main())
        network_text = NetworkFile.path(settings.data_dir).read_text()
        if as_json:
            emit_json({**facts, "network": json.loads(network_text)})
            return
        state = "contracts deployed" if facts["deployed"] else "reusing deployed contracts"
        console.print(f"chain up: {facts['rpc_url']} (pid {facts['pid']}); {state}")
        _up_summary(facts, json.loads(network_text))
        typer.echo(network_text)

    @chain_app.command("node")
    def chain_node() -> None:
        """Run the local chains in the foreground (``nsl run`` supervises this): start the Neo N3 node and a
        local Neo X (anvil) beside it, provision both, wait."""
        from neo_service_layer.kernel.chain.adapters.local_chain import privnet_for

        settings = load_cli_settings()
        marker = settings.data_dir / READY_MARKER
        marker.unlink(missing_ok=True)

        async def main() -> int:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            net = privnet_for(settings)
            attached = net.from_data_dir(net.data_dir)
            owned = not attached.is_running()
            if owned:
                await net.start()
            else:
                net = attached
            anvil = None
            try:
                result = await _provision(settings, net, open_container, hooks())
                evm_hooks = [h for h in hooks() if h.evm_contracts or h.evm_prepare is not None]
                if evm_hooks:  # the local Neo X chain beside it (docs/neox.md)
                    anvil, neox = await _provision_evm(settings, open_container, evm_hooks)
                    console.print(f"neo x node ready: {anvil.url} contracts {neox['contracts']}")
                    await _link(settings, open_container, [h for h in hooks() if h.link is not None])
                marker.write_text(str(os.getpid()))
                console.print(
                    f"chain node ready: {net.rpc_url} randomness {result.network.contracts['randomness']}"
                )
                while not stop.is_set() and net.is_running() and (anvil is None or anvil.is_running()):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=0.5)
                return 0 if stop.is_set() else 1
            finally:
                marker.unlink(missing_ok=True)
                if anvil is not None:
                    await anvil.stop()
                if owned:
                    await net.stop()

        raise typer.Exit(asyncio.run(main()))

    @chain_app.command("down")
    def chain_down(as_json: JsonFlag = False) -> None:
        """Stop the local chain started by ``nsl chain up`` (its data stays)."""
        from neo_service_layer.kernel.chain.adapters.local_chain import chain_dir
        from neo_service_layer.kernel.chain.adapters.privnet import Privnet

        settings = load_cli_settings()
        directory = chain_dir(settings)
        if not (directory / "privnet.json").exists():
            if as_json:
                emit_json({"chain": False, "was_running": False})
                return
            console.print("no local chain here")
            return
        net = Privnet.from_data_dir(directory)
        running = net.is_running()
        asyncio.run(net.stop())
        if as_json:
            emit_json({"chain": True, "was_running": running})
            return
        console.print("chain stopped" if running else "chain was not running")

    @chain_app.command("fund")
    def chain_fund(
        address: Annotated[str, typer.Argument(help="Neo address (N...) or script hash (0x...)")],
        amount: Annotated[str, typer.Argument(help="GAS, e.g. 10 or 0.5")],
        as_json: JsonFlag = False,
    ) -> None:
        """Send dev GAS from the committee account of the local chain."""
        from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
        from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
        from neo_service_layer.kernel.chain.adapters.network import NetworkFile

        settings = load_cli_settings()
        network = NetworkFile.read(settings.data_dir)
        if network is None:
            console.print("[red]no local chain: run `nsl chain up` first[/red]")
            raise typer.Exit(2)
        try:
            fractions = int(Decimal(amount) * deploy.GAS)
            who = uint160(address)
        except (InvalidOperation, ValueError) as exc:
            console.print(f"[red]bad address or amount:[/red] {exc}")
            raise typer.Exit(2) from exc

        async def main() -> str:
            facade = deploy.make_facade(network.rpc_url, network.block_time)
            tx = await deploy.fund(deploy.committee_invoker(facade, network.block_time), who, fractions)
            return f"0x{tx}"

        _print({"to": address, "gas": amount, "tx": asyncio.run(main())}, as_json)

    @chain_app.command("allow-contracts")
    def chain_allow_contracts(as_json: JsonFlag = False) -> None:
        """Register the network's service contracts with the enclave (the cli token): the only contracts
        the sender key's transactions may call. `nsl chain up` does it for the local chain; run it after
        deploying to another network. Prints every contract registered for the network."""
        from neo_service_layer.enclave.wire.keys import EnclaveOperationError
        from neo_service_layer.kernel.chain.adapters.network import NetworkConfigurationError, resolve_network
        from neo_service_layer.kernel.enclave_client.client import EnclaveClient

        settings = load_cli_settings()
        try:
            network = resolve_network(settings)
        except NetworkConfigurationError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        if network is None or network.magic is None or not network.contracts:
            console.print("[red]no network with service contracts is configured[/red]")
            raise typer.Exit(2)
        magic, contracts = network.magic, network.contracts

        async def main() -> dict[str, str]:
            async with _enclave(settings) as with_enclave:
                client = EnclaveClient.from_settings(with_enclave)
                try:
                    return await client.allow_contracts(magic, contracts)
                finally:
                    await client.close()

        try:
            registered = asyncio.run(main())
        except EnclaveOperationError as exc:
            console.print(f"[red]the enclave refused: {exc}[/red]")
            raise typer.Exit(1) from exc
        _print({"network_magic": magic, "contracts": registered}, as_json)

    @chain_app.command("allow-evm-contracts")
    def chain_allow_evm_contracts(as_json: JsonFlag = False) -> None:
        """Register the EVM chain's service contracts (NSL_EVM_CHAIN_ID, NSL_EVM_CONTRACTS) with the enclave
        (the cli token): the only contracts the EVM sender key's transactions may call. `nsl chain node`
        does it for the local Neo X; run it after deploying to Neo X. Prints every contract registered
        for the chain id."""
        from neo_service_layer.enclave.wire.keys import EnclaveOperationError
        from neo_service_layer.kernel.chain.adapters.evm_local import register_evm_contracts
        from neo_service_layer.kernel.chain.adapters.evm_network import resolve_evm_network
        from neo_service_layer.kernel.chain.adapters.network import NetworkConfigurationError
        from neo_service_layer.kernel.enclave_client.client import EnclaveClient

        settings = load_cli_settings()
        try:
            network = resolve_evm_network(settings)
        except NetworkConfigurationError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        if network is None or not network.contracts:
            console.print("[red]no EVM chain with service contracts is configured[/red]")
            raise typer.Exit(2)
        chain_id, contracts = network.chain_id, network.contracts

        async def main() -> dict[str, str]:
            async with _enclave(settings) as with_enclave:
                client = EnclaveClient.from_settings(with_enclave)
                try:
                    return await register_evm_contracts(client, chain_id, contracts)
                finally:
                    await client.close()

        try:
            registered = asyncio.run(main())
        except EnclaveOperationError as exc:
            console.print(f"[red]the enclave refused: {exc}[/red]")
            raise typer.Exit(1) from exc
        _print({"chain_id": chain_id, "contracts": registered}, as_json)

    chain_app.add_typer(owner_commands(open_container, _enclave), name="owner")
    return Command("chain", chain_app)


def _print(document: dict[str, Any], as_json: bool) -> None:
    """A command whose result is JSON already: one line by default, the indented document with --json."""
    if as_json:
        emit_json(document)
    else:
        typer.echo(json.dumps(document))


def _up_summary(facts: dict[str, Any], network: dict[str, Any]) -> None:
    """What ``nsl chain up`` did, on stderr (stdout is network.json for scripts)."""
    new = set(facts["new_contracts"])
    rows: list[tuple[str, object]] = [("rpc", facts["rpc_url"]), ("network magic", network.get("magic"))]
    for name, contract in sorted(network.get("contracts", {}).items()):
        rows.append((name, f"{contract} ({'deployed now' if name in new else 'already deployed'})"))
    rows.append(("duration", f"{facts['seconds']:.1f} s"))
    summary("", rows, console=console)


def local_chain_children(settings: Settings, env: dict[str, str]) -> list[Any]:
    """``nsl run``'s chain child (``nsl chain node``), after the enclave; none for a real network."""
    from neo_service_layer.kernel.supervisor import ChildSpec, nsl_command

    if settings.neo_network != "local":
        return []
    marker = settings.data_dir / READY_MARKER
    marker.unlink(missing_ok=True)
    return [ChildSpec("chain", nsl_command("chain", "node"), env=env, ready=marker.exists)]
