"""Compiled Solidity contracts (``contracts/build/evm/<Name>.json``, written by ``make contracts``) and
their deployment on an EVM chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from web3 import AsyncWeb3

from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.ports.evm_signer import EvmSigner

EVM_BUILD = Path(__file__).resolve().parents[5] / "contracts" / "build" / "evm"


class ArtifactMissing(Exception):
    """The compiled contract is missing: run ``make contracts`` (``python contracts/build.py``)."""


@dataclass(frozen=True, slots=True)
class EvmArtifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes


def load_artifact(name: str, build_dir: Path = EVM_BUILD) -> EvmArtifact:
    path = build_dir / f"{name}.json"
    try:
        data = json.loads(path.read_text())
        return EvmArtifact(name, list(data["abi"]), bytes.fromhex(str(data["bytecode"]).removeprefix("0x")))
    except (OSError, KeyError, ValueError):
        raise ArtifactMissing(f"{path} is missing or unreadable: run `make contracts`") from None


async def deploy(chain: EvmChain, sender: EvmSigner, artifact: EvmArtifact, *args: Any) -> str:
    """Deploy ``artifact`` with constructor ``args``; returns the contract's checksum address."""
    if not artifact.bytecode:
        raise ArtifactMissing(f"{artifact.name} has no bytecode (an interface or abstract contract)")
    factory = AsyncWeb3().eth.contract(abi=artifact.abi, bytecode=HexBytes(artifact.bytecode))
    init = bytes.fromhex(factory.constructor(*args).data_in_transaction.removeprefix("0x"))
    receipt = await chain.send(sender, None, init)
    if receipt.contract_address is None:
        raise RuntimeError(f"deployment of {artifact.name} created no contract")
    return str(receipt.contract_address)
