"""README's local chain commands as a user runs them: ``nsl chain up``, ``fund ADDRESS AMOUNT`` (the
balance read back over RPC) and ``down`` (the node process gone, its port closed), on one chain."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import tempfile
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from neo3.wallet.account import Account

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.privnet import Privnet
from tests.contracts.contract_support import build_contracts
from tests.e2e.readme_support import nsl, nsl_in_process, user_env

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_chain_up_fund_and_down() -> None:
    build_contracts()
    data_dir = Path(tempfile.mkdtemp(prefix="nsl-chain-"))
    env = user_env(data_dir, NSL_NEO_BLOCK_TIME_SECONDS="0.2")
    no_chain = nsl_in_process("chain", "fund", Account.create_new().address, "1", env=env)
    assert no_chain.returncode == 2
    assert "run `nsl chain up` first" in no_chain.stderr
    pid: int | None = None
    try:
        up = nsl("chain", "up", env=env, timeout=240)
        assert up.returncode == 0, up.stderr[-3000:]
        network = json.loads(up.stdout)  # it prints network.json
        assert network == json.loads((data_dir / "network.json").read_text())
        assert {"randomness", "oracle", "feed"} <= set(network["contracts"])
        pid = Privnet.from_data_dir(data_dir / "chain").pid
        assert pid is not None
        assert f"(pid {pid}); contracts deployed" in up.stderr
        assert "deployed now" in up.stderr  # the summary: each contract, deployed by this run
        again_up = nsl("chain", "up", "--json", env=env, timeout=240)  # running: nothing to deploy
        assert again_up.returncode == 0, again_up.stderr[-3000:]
        facts = json.loads(again_up.stdout)
        assert (facts["pid"], facts["deployed"], facts["new_contracts"]) == (pid, False, [])
        assert facts["network"]["contracts"] == network["contracts"]
        port = urlparse(network["rpc_url"]).port
        assert port is not None

        facade = deploy.make_facade(network["rpc_url"], network["block_time"])
        receiver = Account.create_new()

        def balance() -> int:  # read back over RPC
            return asyncio.run(deploy.gas_balance(facade, receiver.script_hash))

        assert balance() == 0
        funded = nsl("chain", "fund", receiver.address, "12.5", env=env)
        assert funded.returncode == 0, funded.stderr
        answer = json.loads(funded.stdout)
        assert (answer["to"], answer["gas"]) == (receiver.address, "12.5")
        assert answer["tx"].startswith("0x")
        assert len(answer["tx"]) == 66
        assert balance() == int(Decimal("12.5") * deploy.GAS)
        for bad in (("not-an-address", "1"), (receiver.address, "lots")):
            refused = nsl_in_process("chain", "fund", *bad, env=env)
            assert refused.returncode == 2
            assert "bad address or amount" in refused.stderr

        down = nsl("chain", "down", env=env)
        assert down.returncode == 0, down.stderr
        assert "chain stopped" in down.stderr
        assert not _alive(pid)
        assert not _port_open(port)
        again = nsl_in_process("chain", "down", env=env)
        assert again.returncode == 0
        assert "chain was not running" in again.stderr
        as_json = nsl_in_process("chain", "down", "--json", env=env)
        assert (as_json.returncode, json.loads(as_json.stdout)) == (0, {"chain": True, "was_running": False})
    finally:
        if pid is not None and _alive(pid):  # the test failed before `chain down` stopped it
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)
