"""#16's chaos: messages in flight both ways while the worker is SIGKILLed and the Neo X node restarted,
under ``nsl run`` (its supervisor brings each back; anvil's chain outlives the restart). At the end every
message was executed exactly once on its destination and every answer reached its sender."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.enclave.wire.crosschain import n3_chain_id
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy as deploy_evm
from neo_service_layer.kernel.chain.adapters.evm_artifacts import load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from tests.e2e.chain.stack import call
from tests.e2e.test_nsl_run import EVM_USER, Run, evm_call, nsl_run, processes_of, until

pytestmark = [pytest.mark.chain, pytest.mark.slow]

EACH_WAY = 6
EVM_GAS, N3_GAS = 200_000, 50_000_000


def _pid(run: Run, marker: bytes) -> int:
    """The one process of the run whose command line holds ``marker``."""
    found = [p for p in processes_of(run.data_dir) if marker in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(found) == 1, found
    return found[0]


def _sql(run: Run, statement: str) -> list[Any]:
    """Rows of a query on the run's database (the embedded SQLite file)."""
    with closing(sqlite3.connect(run.data_dir / "nsl.db")) as db:
        return db.execute(statement).fetchall()


def _answered(run: Run) -> int:
    """Messages executed with their receipt stored."""
    return int(_sql(run, "SELECT count(*) FROM crosschain_messages WHERE receipt_status = 'stored'")[0][0])


def _unfinished(run: Run) -> int:
    """Messages seen and not yet executed with their receipt stored."""
    return int(_sql(run, "SELECT count(*) FROM crosschain_messages WHERE receipt_status != 'stored'")[0][0])


async def test_messages_survive_a_killed_worker_and_a_restarted_neo_x_node() -> None:
    async with nsl_run() as run:
        neox = run.network["neox"]
        n3_gateway, evm_gateway = run.contract("crosschain"), neox["contracts"]["crosschain"]
        evm_id, n3_id = int(neox["chain_id"]), n3_chain_id(int(run.network["magic"]))
        chain = EvmChain([neox["rpc_url"]], evm_id, receipt_timeout=30)
        try:
            echo = await deploy_evm(chain, EVM_USER, load_artifact("EchoReceiver"), evm_gateway)
            nef, manifest = artifact("xmsg_sender")
            sender = await deploy.deploy_contract(run.committee, nef, manifest, n3_gateway)
            gas = call(
                CONTRACT_HASHES.GAS_TOKEN,
                "transfer",
                run.committee.script_hash,
                sender,
                20 * deploy.GAS,
                None,
            )
            await run.committee.invoke(gas)
            nef, manifest = artifact("xmsg_echo_receiver")
            n3_echo = await deploy.deploy_contract(
                run.committee, nef, manifest, [n3_gateway, run.committee.script_hash]
            )
            gateway = chain.contract(evm_gateway, load_artifact("MessageGateway").abi)
            fee_data = bytes.fromhex(gateway.encode_abi("feeOf", args=[n3_id, N3_GAS])[2:])
            fee = int.from_bytes(await chain.read({"to": evm_gateway, "data": fee_data}), "big")

            async def burst(first: int) -> None:
                for i in range(first, first + EACH_WAY // 2):
                    await run.committee.invoke(
                        call(sender, "ask", evm_id, bytes.fromhex(echo[2:]), b"p%d" % i, EVM_GAS)
                    )
                    send = gateway.encode_abi("send", args=[n3_id, n3_echo.to_array(), b"q%d" % i, N3_GAS])
                    await chain.send(EVM_USER, evm_gateway, bytes.fromhex(send[2:]), value=fee)

            await burst(1)
            in_flight = [EACH_WAY - _answered(run)]  # sent, and not yet answered back
            os.kill(_pid(run, b"worker"), signal.SIGKILL)  # the worker dies with messages in flight
            await asyncio.sleep(1.0)
            await burst(1 + EACH_WAY // 2)
            in_flight.append(EACH_WAY * 2 - _answered(run))
            os.kill(_pid(run, b"anvil"), signal.SIGTERM)  # the Neo X node restarts (its chain kept)

            async def all_answered() -> int:
                return EACH_WAY * 2 - _unfinished(run) if _count(run) == EACH_WAY * 2 else -1

            await until(
                all_answered, EACH_WAY * 2, "every message executed and its receipt stored", timeout=240
            )
            assert min(in_flight) > 0, in_flight  # each interruption caught messages on their way
            log = (run.data_dir / "run.log").read_text()
            assert "Traceback" not in log, log[-3000:]  # outages are quiet warnings, never a failing job
            await _assert_exactly_once(run, chain, echo, sender, n3_echo, evm_gateway, gateway)
        finally:
            await chain.close()


def _count(run: Run) -> int:
    return int(_sql(run, "SELECT count(*) FROM crosschain_messages")[0][0])


async def _assert_exactly_once(
    run: Run,
    chain: EvmChain,
    echo: str,
    sender: types.UInt160,
    n3_echo: types.UInt160,
    evm_gateway: str,
    gateway: Any,
) -> None:
    received = await chain.read({"to": echo, "data": evm_call(chain, echo, "EchoReceiver", "received")})
    assert int.from_bytes(received, "big") == EACH_WAY  # each N3 message ran once on Neo X
    assert (await run.committee.test(call(n3_echo, "received"))).result.stack[0].as_int() == EACH_WAY
    for nonce in range(1, EACH_WAY + 1):
        answer = (await run.committee.test(call(sender, "answerOf", nonce))).result.stack[0].value
        assert [answer[2].as_int(), answer[3].as_int()] == [1, 1], nonce  # executed, at the first attempt
        raw = await chain.read(
            {"to": evm_gateway, "data": bytes.fromhex(gateway.encode_abi("resultOf", args=[nonce])[2:])}
        )
        _sender, _dest, status, attempt, _result = decode(
            ["address", "uint256", "uint8", "uint256", "bytes"], raw
        )
        assert (status, attempt) == (1, 1), nonce
    rows = _sql(run, "SELECT status, attempts, receipt_status, receipt_attempt FROM crosschain_messages")
    assert sorted(set(rows)) == [("executed", 1, "stored", 1)]
    assert len(rows) == EACH_WAY * 2
