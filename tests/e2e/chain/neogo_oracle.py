"""neo-go's own oracle service on a local chain: the reference our native Oracle node is measured and
checked against (``bench/native_oracle.py``, ``test_neo_filter_conformance.py``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from neo3.core import types

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.privnet import (
    DEV_VALIDATOR_PUBLIC_KEY,
    DEV_WALLET_PASSWORD,
    Privnet,
    PrivnetSettings,
)
from neo_service_layer.services.native_oracle.adapters.node import designate_oracles
from tests.e2e.chain.tls_support import LoopbackCertificates


class OraclePrivnet(Privnet):
    """The local node with neo-go's own oracle service enabled (validator wallet unlocked)."""

    def configure(self) -> Path:
        path = super().configure()
        config: dict[str, Any] = yaml.safe_load(path.read_text())
        config["ApplicationConfiguration"]["Oracle"] = {
            "Enabled": True,
            "AllowPrivateHost": True,
            "UnlockWallet": {"Path": "wallet.json", "Password": DEV_WALLET_PASSWORD},
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


@dataclass
class NeoGoOracle:
    rpc_url: str
    committee: deploy.AccountInvoker
    consumer: types.UInt160
    #: the neo-go node's process (its CPU time is the reference ``bench/native_oracle.py`` reports)
    pid: int | None = None


async def deploy_consumer(committee: deploy.AccountInvoker) -> types.UInt160:
    """``contracts/examples/native_oracle_consumer.py``: a plain contract using Neo's native Oracle."""
    nef, manifest = artifact("native_oracle_consumer")
    return await deploy.deploy_contract(committee, nef, manifest)


@asynccontextmanager
async def neo_go_oracle(certificates: LoopbackCertificates, block_time: float) -> AsyncIterator[NeoGoOracle]:
    """A node whose own oracle service answers (the validator key designated, the test CA trusted),
    with the native Oracle consumer deployed; nothing of ours runs."""
    directory = Path(tempfile.mkdtemp(prefix="nsl-neogo-"))
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(certificates.ca_file)  # inherited by the node
    net = OraclePrivnet(PrivnetSettings(data_dir=directory, block_time=block_time, max_gas_invoke=200))
    try:
        await net.start()
        committee = deploy.committee_invoker(deploy.make_facade(net.rpc_url, block_time), block_time)
        await designate_oracles(committee, [bytes.fromhex(DEV_VALIDATOR_PUBLIC_KEY)])
        yield NeoGoOracle(net.rpc_url, committee, await deploy_consumer(committee), net.pid)
    finally:
        await net.stop()
        if previous is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = previous
        shutil.rmtree(directory, ignore_errors=True)
