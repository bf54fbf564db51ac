"""The privnet manager: generated configuration, restarts on the same data directory, detached nodes."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import yaml
from neo3.api import noderpc

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.privnet import (
    Privnet,
    PrivnetError,
    PrivnetSettings,
    find_free_port,
    render_config,
)
from tests.contracts.contract_support import artifact, build_contracts, call


def test_render_config_sets_network_database_and_ports(tmp_path: Path) -> None:
    settings = PrivnetSettings(data_dir=tmp_path, block_time=0.2, db_type="boltdb", max_gas_invoke=50)
    config = render_config(settings, magic=1234, rpc_port=40001)
    protocol, app = config["ProtocolConfiguration"], config["ApplicationConfiguration"]
    assert protocol["Magic"] == 1234
    assert protocol["TimePerBlock"] == "200ms"
    assert protocol["StandbyCommittee"] == [
        "02b3622bf4017bdfe317c58aed5f4c753f206b7db896046fa7d774bbc4bf7f8dc2"
    ]
    assert app["DBConfiguration"] == {"Type": "boltdb", "BoltDBOptions": {"FilePath": "chain/neo.bolt"}}
    assert app["RPC"]["Addresses"] == ["127.0.0.1:40001"]
    assert app["RPC"]["MaxGasInvoke"] == 50
    assert app["P2P"]["Addresses"] == ["127.0.0.1:0"]
    assert app["Consensus"]["UnlockWallet"]["Path"] == "wallet.json"


def test_configure_keeps_the_magic_of_a_data_dir(tmp_path: Path) -> None:
    first = Privnet(PrivnetSettings(data_dir=tmp_path))
    first.configure()
    again = Privnet(PrivnetSettings(data_dir=tmp_path, rpc_port=find_free_port()))
    again.configure()
    assert again.magic == first.magic
    written = yaml.safe_load(again.config_path.read_text())
    assert written["ProtocolConfiguration"]["Magic"] == first.magic
    assert written["ApplicationConfiguration"]["DBConfiguration"]["Type"] == "leveldb"
    assert (tmp_path / "wallet.json").exists()
    with pytest.raises(PrivnetError, match="magic"):
        Privnet(PrivnetSettings(data_dir=tmp_path, magic=first.magic + 1)).configure()


async def _height(net: Privnet) -> int:
    async with noderpc.NeoRpcClient(net.rpc_url) as client:
        return await client.get_block_count()


@pytest.mark.chain
async def test_restart_keeps_height_and_contracts(tmp_path: Path) -> None:
    build_contracts()
    settings = PrivnetSettings(data_dir=tmp_path / "net", block_time=0.1)
    net = Privnet(settings)
    await net.start()
    try:
        facade = deploy.make_facade(net.rpc_url, settings.block_time)
        committee = deploy.committee_invoker(facade, settings.block_time)
        nef, manifest = artifact("dice_consumer")
        dice = await deploy.deploy_contract(committee, nef, manifest, None)
        height = await _height(net)
        pid = net.pid
    finally:
        await net.stop()
    assert pid is not None
    assert not net.is_running()

    restarted = Privnet(settings)
    async with restarted:
        assert await _height(restarted) >= height
        async with noderpc.NeoRpcClient(restarted.rpc_url) as client:
            state = await client.get_contract_state(dice)
        assert state.manifest.name == "NslDiceConsumer"
        facade = deploy.make_facade(restarted.rpc_url, settings.block_time)
        receipt = await deploy.committee_invoker(facade, settings.block_time).test(call(dice, "lastRoll"))
        assert receipt.result.stack[0].as_int() == 0
        # the chain keeps growing after the restart
        start = await _height(restarted)
        while await _height(restarted) <= start:
            await asyncio.sleep(0.05)
    assert not restarted.is_running()


@pytest.mark.chain
async def test_detached_node_is_stopped_from_its_data_dir(tmp_path: Path) -> None:
    settings = PrivnetSettings(data_dir=tmp_path / "net", block_time=0.2)
    net = Privnet(settings)
    await net.start(detach=True)
    try:
        attached = Privnet.from_data_dir(settings.data_dir)
        assert attached.pid == net.pid
        assert attached.rpc_url == net.rpc_url
        assert attached.is_running()
        with pytest.raises(PrivnetError, match="already running"):
            await Privnet(settings).start()
        await attached.stop()
        assert not attached.is_running()
        assert Privnet.from_data_dir(settings.data_dir).pid is None
    finally:
        await net.stop()  # reaps the child (already stopped above)
    assert not net.is_running()


async def test_start_refuses_a_taken_rpc_port(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        net = Privnet(PrivnetSettings(data_dir=tmp_path / "net", rpc_port=port))
        with pytest.raises(PrivnetError, match="already in use"):
            await net.start()
        assert not net.is_running()
        assert net.pid is None
