"""``nsl chain ...`` (the local Neo chain) and ``nsl randomness verify``."""

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
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from neo_service_layer.kernel.config import Settings

chain_app = typer.Typer(no_args_is_help=True, help="The local Neo N3 chain (development).")
randomness_app = typer.Typer(no_args_is_help=True, help="Randomness service tools.")
console = Console(stderr=True, soft_wrap=True)

READY_MARKER = "chain-node.ready"


def _settings() -> Settings:
    from neo_service_layer.cli import _settings as load

    return load()


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
    token = secrets.token_urlsafe(32)
    env = {**os.environ, "NSL_ENCLAVE_TOKEN": token, "NSL_DATA_DIR": str(settings.data_dir)}
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


async def _provision(settings: Settings, net: Any) -> Any:
    from neo_service_layer.kernel.chain.adapters.local_chain import provision
    from neo_service_layer.kernel.chain.adapters.request_store import ChainStore
    from neo_service_layer.kernel.clock import SystemClock
    from neo_service_layer.kernel.db.engine import create_engine
    from neo_service_layer.kernel.db.migrate import upgrade_to_head
    from neo_service_layer.kernel.enclave_client.client import EnclaveClient
    from neo_service_layer.services.keys.adapters.repositories import sealed_record_loader

    async with _enclave(settings) as with_enclave:
        engine = create_engine(with_enclave)
        client = EnclaveClient.from_settings(with_enclave, loader=sealed_record_loader(engine))
        try:
            if with_enclave.should_auto_migrate:
                await upgrade_to_head(engine)
            return await provision(with_enclave, net, client, ChainStore(engine), SystemClock())
        finally:
            await client.close()
            await engine.dispose()


@chain_app.command("up")
def chain_up() -> None:
    """Start the local chain in the background, deploy the service contracts once, print network.json."""
    from neo_service_layer.kernel.chain.adapters.local_chain import ContractsNotBuilt, privnet_for
    from neo_service_layer.kernel.chain.adapters.network import NetworkFile

    settings = _settings()

    async def main() -> None:
        net = privnet_for(settings)
        attached = net.from_data_dir(net.data_dir)
        if attached.is_running():
            net = attached
        else:
            await net.start(detach=True)
        try:
            result = await _provision(settings, net)
        except ContractsNotBuilt as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        console.print(
            f"chain up: {net.rpc_url} (pid {net.pid}); "
            f"{'contracts deployed' if result.deployed else 'reusing deployed contracts'}"
        )

    asyncio.run(main())
    typer.echo(NetworkFile.path(settings.data_dir).read_text())


@chain_app.command("node")
def chain_node() -> None:
    """Run the local chain in the foreground (``nsl run`` supervises this): start, provision, wait."""
    from neo_service_layer.kernel.chain.adapters.local_chain import privnet_for

    settings = _settings()
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
        try:
            result = await _provision(settings, net)
            marker.write_text(str(os.getpid()))
            console.print(
                f"chain node ready: {net.rpc_url} randomness {result.network.contracts['randomness']}"
            )
            while not stop.is_set() and net.is_running():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.5)
            return 0 if stop.is_set() else 1
        finally:
            marker.unlink(missing_ok=True)
            if owned:
                await net.stop()

    raise typer.Exit(asyncio.run(main()))


@chain_app.command("down")
def chain_down() -> None:
    """Stop the local chain started by ``nsl chain up`` (its data stays)."""
    from neo_service_layer.kernel.chain.adapters.local_chain import chain_dir
    from neo_service_layer.kernel.chain.adapters.privnet import Privnet

    settings = _settings()
    directory = chain_dir(settings)
    if not (directory / "privnet.json").exists():
        console.print("no local chain here")
        return
    net = Privnet.from_data_dir(directory)
    running = net.is_running()
    asyncio.run(net.stop())
    console.print("chain stopped" if running else "chain was not running")


@chain_app.command("fund")
def chain_fund(
    address: Annotated[str, typer.Argument(help="Neo address (N...) or script hash (0x...)")],
    amount: Annotated[str, typer.Argument(help="GAS, e.g. 10 or 0.5")],
) -> None:
    """Send dev GAS from the committee account of the local chain."""
    from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
    from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
    from neo_service_layer.kernel.chain.adapters.network import NetworkFile

    settings = _settings()
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

    typer.echo(json.dumps({"to": address, "gas": amount, "tx": asyncio.run(main())}))


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

    settings = _settings()
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


def local_chain_children(settings: Settings, env: dict[str, str]) -> list[Any]:
    """``nsl run``'s chain child (``nsl chain node``), after the enclave; none for a real network."""
    from neo_service_layer.kernel.supervisor import ChildSpec, nsl_command

    if settings.neo_network != "local":
        return []
    marker = settings.data_dir / READY_MARKER
    marker.unlink(missing_ok=True)
    return [ChildSpec("chain", nsl_command("chain", "node"), env=env, ready=marker.exists)]
