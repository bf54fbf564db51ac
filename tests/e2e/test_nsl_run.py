"""``nsl run`` end to end: chain, enclave, worker and API come up; a roll, our oracle, Neo's native Oracle
and a price feed are answered on chain; Ctrl-C stops all."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi.abi import decode
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.enclave.wire.crosschain import n3_chain_id
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy as deploy_evm
from neo_service_layer.kernel.chain.adapters.evm_artifacts import load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.adapters.privnet import find_free_port
from tests.anvil_support import dev_account
from tests.contracts.contract_support import build_contracts
from tests.e2e.chain.oracle_support import web_server
from tests.e2e.chain.stack import call
from tests.e2e.chain.tls_support import https_server, make_certificates

pytestmark = [pytest.mark.chain, pytest.mark.slow]

#: a development account of the local anvil (its published key; funded there only)
EVM_USER = LocalEvmSigner(dev_account(2))


def processes_of(data_dir: Path) -> list[int]:
    """Processes whose environment or command line names ``data_dir`` (our children and the node)."""
    marker = str(data_dir).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes() or marker in (proc / "cmdline").read_bytes():
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(proc.name))
        except OSError:
            continue
    return found


@dataclass
class Run:
    """A running ``nsl run``: its data dir, API port, ``network.json`` and the committee account."""

    data_dir: Path
    port: int
    network: dict[str, Any]
    committee: deploy.AccountInvoker

    def contract(self, name: str) -> types.UInt160:
        return uint160(self.network["contracts"][name])


@asynccontextmanager
async def nsl_run(**extra_env: str) -> AsyncIterator[Run]:
    """``nsl run`` on its embedded defaults (plus ``extra_env``), up to a ready chain; on exit Ctrl-C
    stops it with exit code 0 and no process of the run left."""
    build_contracts()
    data_dir = Path(tempfile.mkdtemp(prefix="nsl-run-"))
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    env.update(
        NSL_DATA_DIR=str(data_dir),
        NSL_HTTP_PORT=str(port),
        NSL_NEO_BLOCK_TIME_SECONDS="0.2",
        NSL_LOG_FORMAT="json",
        **extra_env,
    )
    with (data_dir / "run.log").open("ab") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                assert runner.poll() is None, (data_dir / "run.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "nsl run did not come up"
                try:
                    ready = await client.get("/health/ready")
                    if ready.json()["components"].get("chain", {}).get("status") == "up":
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        network = json.loads((data_dir / "network.json").read_text())
        facade = deploy.make_facade(network["rpc_url"], network["block_time"])
        yield Run(data_dir, port, network, deploy.committee_invoker(facade, network["block_time"]))
    finally:
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = runner.wait(timeout=60)
        finally:
            if runner.poll() is None:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()
    assert code == 0
    deadline = time.monotonic() + 10
    while processes_of(data_dir) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert processes_of(data_dir) == [], "no process of this run is left"
    shutil.rmtree(data_dir, ignore_errors=True)


async def until(read: Callable[[], Awaitable[Any]], expected: Any, what: str, timeout: float = 30) -> None:
    """Poll ``read`` until it returns ``expected``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await read()
        if last == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: expected {expected!r}, last read {last!r}")


async def prepaid_consumer(run: Run, name: str, service: types.UInt160) -> types.UInt160:
    """Deploy example contract ``name`` bound to ``service`` and prepay 5 GAS of its fees there."""
    nef, manifest = artifact(name)
    consumer = await deploy.deploy_contract(run.committee, nef, manifest, service)
    await run.committee.invoke(
        call(
            CONTRACT_HASHES.GAS_TOKEN,
            "transfer",
            run.committee.script_hash,
            service,
            5 * deploy.GAS,
            consumer,
        )
    )
    return consumer


async def test_nsl_run_serves_a_roll_and_stops_cleanly() -> None:
    async with nsl_run() as run:
        # the local Neo X beside it (docs/neox.md): anvil with the EVM randomness contract deployed
        neox = run.network["neox"]
        async with httpx.AsyncClient() as http:
            code = await http.post(
                neox["rpc_url"],
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_getCode",
                      "params": [neox["contracts"]["randomness"], "latest"]},
            )  # fmt: skip
        assert len(code.json()["result"]) > 2
        dice = await prepaid_consumer(run, "dice_consumer", run.contract("randomness"))
        receipt = await run.committee.invoke(call(dice, "roll"))
        request_id = receipt.result.stack[0].as_int()

        async def rolled() -> bool:
            result = (await run.committee.test(call(dice, "getRoll", request_id))).result.stack[0].as_int()
            return 1 <= result <= 6

        await until(rolled, True, "the roll's callback")

        # and a Solidity consumer on the local Neo X, answered by the same worker through the enclave
        chain = EvmChain([neox["rpc_url"]], int(neox["chain_id"]), receipt_timeout=20)
        try:
            consumer = await deploy_evm(
                chain, EVM_USER, load_artifact("RandomnessConsumer"), neox["contracts"]["randomness"]
            )
            await chain.send(
                EVM_USER, consumer, evm_call(chain, consumer, "RandomnessConsumer", "ask", bytes(32))
            )

            async def answered() -> bool:
                held = await chain.read(
                    {"to": consumer, "data": evm_call(chain, consumer, "RandomnessConsumer", "answered", 1)}
                )
                return int.from_bytes(held, "big") == 1

            await until(answered, True, "the EVM consumer's randomness")
        finally:
            await chain.close()


async def evm_oracle_answer(run: Run, url: str) -> None:
    """An ``OracleConsumer`` on the local Neo X asks for ``url``'s ``$.price``: the worker's fetch lands."""
    neox = run.network["neox"]
    chain = EvmChain([neox["rpc_url"]], int(neox["chain_id"]), receipt_timeout=20)
    try:
        consumer = await deploy_evm(
            chain, EVM_USER, load_artifact("OracleConsumer"), neox["contracts"]["oracle"]
        )
        await chain.send(
            EVM_USER, consumer, evm_call(chain, consumer, "OracleConsumer", "ask", url, "$.price")
        )

        async def result() -> bytes:
            raw = await chain.read(
                {"to": consumer, "data": evm_call(chain, consumer, "OracleConsumer", "resultOf", 1)}
            )
            return bytes(decode(["bytes"], raw)[0]) if raw else b""

        await until(result, b"42.17", "the EVM oracle consumer's answer")
    finally:
        await chain.close()


def evm_call(chain: EvmChain, address: str, artifact_name: str, function: str, *args: Any) -> bytes:
    encoded = chain.contract(address, load_artifact(artifact_name).abi).encode_abi(function, args=list(args))
    return bytes.fromhex(encoded[2:])


async def test_nsl_run_answers_oracle_requests_native_oracle_requests_and_publishes_a_feed() -> None:
    """Parts A, B and C of the oracle through ``nsl run``: our oracle contract (http on loopback, allowed
    by configuration), Neo's native Oracle answered by our node (https with a test CA) and a price feed
    defined in ``NSL_FEEDS`` whose first round lands on the feed contract."""
    tls_dir = Path(tempfile.mkdtemp(prefix="nsl-tls-"))
    certificates = make_certificates(tls_dir)
    feeds = [
        {
            "pair": "NEO/USD",
            "decimals": 8,
            "quorum": 2,
            "sources": [{"name": n, "url": "", "path": "$.price"} for n in ("a", "b", "c")],
        }
    ]
    try:
        with web_server() as web, https_server(certificates) as tls:
            web.set("/ticker", {"price": 42.17})
            for name, price in (("a", "100.0"), ("b", 100.2), ("c", 99.8)):
                web.set(f"/{name}", {"price": price})
            for source in feeds[0]["sources"]:  # type: ignore[attr-defined]
                source["url"] = web.url(f"/{source['name']}")
            tls.routes["/ticker"] = {"price": 42.17, "volume": 3}
            async with nsl_run(
                NSL_ORACLE_ALLOW_HOSTS="127.0.0.1",
                NSL_ORACLE_ALLOW_HTTP="true",
                NSL_ORACLE_CA_FILE=str(certificates.ca_file),
                NSL_FEEDS=json.dumps(feeds),
                NSL_FEED_INTERVAL_SECONDS="0.5",
            ) as run:
                committee = run.committee

                # A: our oracle contract
                consumer = await prepaid_consumer(run, "price_consumer", run.contract("oracle"))
                await committee.invoke(call(consumer, "requestPrice", web.url("/ticker"), "$.price"))

                async def price() -> str:
                    return str((await committee.test(call(consumer, "latestPrice"))).result.stack[0].as_str())

                await until(price, "42.17", "our oracle's callback")

                # A on Neo X: a Solidity consumer asks the EVM oracle contract for the same value
                await evm_oracle_answer(run, web.url("/ticker"))

                # B: Neo's native Oracle, answered by our node
                nef, manifest = artifact("native_oracle_consumer")
                native = await deploy.deploy_contract(committee, nef, manifest)
                await committee.invoke(call(native, "request", tls.url("/ticker"), "$.price", 1, deploy.GAS))

                async def native_result() -> bytes:
                    return bytes((await committee.test(call(native, "lastResult"))).result.stack[0].value)

                await until(native_result, b"[42.17]", "the native Oracle's callback")

                # C: the feed's first round, the median of three sources
                feed = run.contract("feed")

                async def answer() -> int:
                    stack = (await committee.test(call(feed, "latestRoundData", "NEO/USD"))).result.stack
                    values = stack[0].value if stack and stack[0].value else []
                    return int(values[1].as_int()) if values else 0

                await until(answer, 100_00000000, "the feed's first round")
    finally:
        shutil.rmtree(tls_dir, ignore_errors=True)


async def test_nsl_run_relays_messages_between_n3_and_neo_x_and_their_answers_back() -> None:
    """#16 through ``nsl run``: an N3 contract sends to a Solidity receiver on the local Neo X and reads its
    answer back on N3; a Neo X account sends to an N3 receiver and reads its answer back on Neo X. The
    worker relays each message and receipt, signed by the enclave from what it read on the source chain;
    the API shows each message executed once, its receipt stored."""
    async with nsl_run() as run:
        neox = run.network["neox"]
        n3_gateway = run.contract("crosschain")
        evm_gateway = neox["contracts"]["crosschain"]
        evm_id, n3_id = int(neox["chain_id"]), n3_chain_id(int(run.network["magic"]))
        chain = EvmChain([neox["rpc_url"]], evm_id, receipt_timeout=20)
        try:
            # N3 -> Neo X: the sender contract pays the fee from its own GAS
            echo = await deploy_evm(chain, EVM_USER, load_artifact("EchoReceiver"), evm_gateway)
            nef, manifest = artifact("xmsg_sender")
            sender = await deploy.deploy_contract(run.committee, nef, manifest, n3_gateway)
            gas = call(
                CONTRACT_HASHES.GAS_TOKEN, "transfer", run.committee.script_hash, sender, 5 * deploy.GAS, None
            )
            await run.committee.invoke(gas)
            await run.committee.invoke(call(sender, "ask", evm_id, bytes.fromhex(echo[2:]), b"ping", 200_000))

            async def n3_answer() -> list[Any]:
                answer = (await run.committee.test(call(sender, "answerOf", 1))).result.stack[0].value
                return [answer[2].as_int(), answer[3].as_int(), bytes(answer[4].value or b"")]

            await until(
                n3_answer, [1, 1, b"echo:ping"], "the Neo X receiver's answer, read on N3", timeout=60
            )
            received = await chain.read(
                {"to": echo, "data": evm_call(chain, echo, "EchoReceiver", "received")}
            )
            assert int.from_bytes(received, "big") == 1  # delivered once

            # Neo X -> N3: an account pays the fee in the gateway's currency
            nef, manifest = artifact("xmsg_echo_receiver")
            n3_echo = await deploy.deploy_contract(
                run.committee, nef, manifest, [n3_gateway, run.committee.script_hash]
            )
            gateway_abi = load_artifact("MessageGateway").abi
            contract = chain.contract(evm_gateway, gateway_abi)
            fee_call = contract.encode_abi("feeOf", args=[n3_id, 50_000_000])
            fee = int.from_bytes(
                await chain.read({"to": evm_gateway, "data": bytes.fromhex(fee_call[2:])}), "big"
            )
            send = contract.encode_abi("send", args=[n3_id, n3_echo.to_array(), b"pong", 50_000_000])
            await chain.send(EVM_USER, evm_gateway, bytes.fromhex(send[2:]), value=fee)

            async def evm_answer() -> tuple[Any, ...]:
                data = bytes.fromhex(contract.encode_abi("resultOf", args=[1])[2:])
                raw = await chain.read({"to": evm_gateway, "data": data})
                _sender, _dest, status, attempt, result = decode(
                    ["address", "uint256", "uint8", "uint256", "bytes"], raw
                )
                return int(status), int(attempt), bytes(result)

            await until(
                evm_answer, (1, 1, b"echo:pong"), "the N3 receiver's answer, read on Neo X", timeout=60
            )
            assert (await run.committee.test(call(n3_echo, "received"))).result.stack[0].as_int() == 1
        finally:
            await chain.close()
