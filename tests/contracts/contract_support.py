"""Helpers for contract tests against a real neo-go privnet.

Signing of fulfilments goes through ``LocalRandomnessKeys`` (python ``cryptography`` secp256r1 and
``pyblst`` BLS12-381) behind ``sign_fulfilment``: an off-chain stand-in for the enclave's
``randomness_fulfil``, building the same V2 messages from the same facts.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from neo3 import vm
from neo3.api import noderpc
from neo3.api.wrappers import ChainFacade, ContractMethodResult, GenericContract, InvokeReceipt
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.wallet import account
from pyblst import BlstP1Element, BlstP2Element

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.privnet import Privnet
from neo_service_layer.services.randomness import rules as randomness

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "contracts" / "build"
BLOCK_TIME = 0.1
#: the owner delay and refund timeout of the services deployed by the tests (blocks of BLOCK_TIME)
UPDATE_DELAY = 10
REFUND_BLOCKS = 30

BLS_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_"
BLS_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
G1_GENERATOR = bytes.fromhex(
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
)


# ---------------------------------------------------------------------------------------------------------
# off-chain keys (stand-in for the enclave)


class LocalRandomnessKeys:
    """A secp256r1 key and a BLS12-381 key held in this process."""

    def __init__(self) -> None:
        self._ecdsa = ec.generate_private_key(ec.SECP256R1())
        self._bls = secrets.randbelow(BLS_ORDER - 1) + 1

    @property
    def public_key(self) -> bytes:
        return self._ecdsa.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    @property
    def bls_public_key(self) -> bytes:
        return bytes(BlstP1Element.uncompress(G1_GENERATOR).scalar_mul(self._bls).compress())

    def ecdsa_sign(self, message: bytes) -> bytes:
        """64-byte r||s over SHA-256(message), as CryptoLib.verifyWithECDsa expects."""
        r, s = decode_dss_signature(self._ecdsa.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def bls_sign(self, message: bytes) -> bytes:
        return bytes(BlstP2Element.hash_to_group(message, BLS_DST).scalar_mul(self._bls).compress())


def message_point(message: bytes) -> bytes:
    """hash_to_G2(message) compressed: what ``verifyProof`` takes as ``messagePoint``."""
    return bytes(BlstP2Element.hash_to_group(message, BLS_DST).compress())


@dataclass(frozen=True)
class Fulfilment:
    request_id: int
    output: bytes
    proof: bytes
    signature: bytes


def fulfilment_args(f: Fulfilment) -> list[bytes]:
    """``fulfill``'s arguments after the request id."""
    return [f.output, f.proof, f.signature]


def sign_fulfilment(keys: LocalRandomnessKeys, facts: randomness.RandomnessFacts) -> Fulfilment:
    """What the enclave's ``randomness_fulfil`` does for a request (V2 formats of ``enclave/wire/
    randomness.py``): BLS proof over the VRF input, output, ECDSA signature over the fulfil message."""
    proof = keys.bls_sign(randomness.vrf_input(facts))
    output = randomness.output_from_proof(proof)
    signature = keys.ecdsa_sign(randomness.fulfil_message(facts, output, proof))
    return Fulfilment(facts.request_id, output, proof, signature)


def request_facts(
    magic: int, service: types.UInt160, consumer: types.UInt160, request_id: int, seed: bytes
) -> randomness.RandomnessFacts:
    """The facts a fulfilment for ``service`` on network ``magic`` is bound to (script hashes as NeoVM
    stores them: ``to_array()``, little-endian)."""
    return randomness.RandomnessFacts(magic, service.to_array(), request_id, consumer.to_array(), seed)


# ---------------------------------------------------------------------------------------------------------
# chain helpers


def call(
    contract: types.UInt160, method: str, args: Sequence[Any] | None = None
) -> ContractMethodResult[Any]:
    return GenericContract(contract).call_function(method, list(args) if args is not None else None)


def script(*calls: tuple[types.UInt160, str, Sequence[Any]]) -> ContractMethodResult[Any]:
    """Several contract calls in one transaction script."""
    sb = vm.ScriptBuilder()
    for contract, method, args in calls:
        sb.emit_contract_call_with_args(contract, method, list(args))
    return ContractMethodResult(sb.to_array())


def stack(receipt: InvokeReceipt[Any]) -> list[noderpc.StackItem]:
    result = receipt.result
    items: list[noderpc.StackItem] = result.stack
    return items


def events(receipt: InvokeReceipt[Any], name: str) -> list[list[noderpc.StackItem]]:
    return [n.state.value for n in receipt.notifications if n.event_name == name]


def fault_of(receipt: InvokeReceipt[Any]) -> str:
    assert receipt.result.state == "FAULT", f"expected FAULT, got {receipt.result.state}"
    exception: str = receipt.result.exception or ""
    return exception


@dataclass
class Chain:
    net: Privnet
    facade: ChainFacade
    committee: deploy.AccountInvoker
    owner: deploy.AccountInvoker
    stranger: deploy.AccountInvoker
    #: the hot sender the services run with (``markCallbackFailed``), never the owner
    operator: deploy.AccountInvoker = field(init=False)

    def invoker(self, acc: account.Account) -> deploy.AccountInvoker:
        return deploy.AccountInvoker(
            self.facade,
            acc,
            receipt_timeout=max(BLOCK_TIME * 50, 10.0),
            receipt_retry_delay=BLOCK_TIME / 4,
        )

    async def read(self, contract: types.UInt160, method: str, *args: Any) -> noderpc.StackItem:
        receipt = await self.committee.test(call(contract, method, args))
        assert receipt.result.state == "HALT", receipt.result.exception
        return stack(receipt)[0]


@dataclass
class Deployment:
    service: types.UInt160
    dice: types.UInt160
    faulty: types.UInt160
    keys: LocalRandomnessKeys
    #: the chain's network magic (``Runtime.GetNetwork``)
    magic: int

    def facts(
        self, request_id: int, seed: bytes, consumer: types.UInt160 | None = None
    ) -> randomness.RandomnessFacts:
        """The facts of a request to this service on this chain (consumer: the faulty consumer unless
        given; most tests request through it)."""
        chosen = consumer if consumer is not None else self.faulty
        return request_facts(self.magic, self.service, chosen, request_id, seed)

    def sign(
        self,
        request_id: int,
        seed: bytes,
        consumer: types.UInt160 | None = None,
        keys: LocalRandomnessKeys | None = None,
    ) -> Fulfilment:
        """The fulfilment this service accepts for the request (signed with ``keys``, default its own)."""
        return sign_fulfilment(keys or self.keys, self.facts(request_id, seed, consumer))


async def wait_for_height(chain: Chain, target: int) -> None:
    """Until a test invocation sees ``Ledger.currentIndex >= target`` (the chain's height)."""
    async with noderpc.NeoRpcClient(chain.net.rpc_url) as client:
        for _ in range(int(60 / BLOCK_TIME)):
            if await client.get_block_count() - 1 >= target:
                return
            await asyncio.sleep(BLOCK_TIME / 2)
    raise AssertionError(f"the chain did not reach height {target}")


def build_contracts() -> None:
    subprocess.run([sys.executable, str(REPO / "contracts" / "build.py")], check=True, capture_output=True)


def artifact(name: str) -> tuple[Path, Path]:
    return BUILD / f"{name}.nef", BUILD / f"{name}.manifest.json"


async def deploy_service(
    chain: Chain,
    deployer: deploy.AccountInvoker,
    owner: types.UInt160,
    keys: LocalRandomnessKeys,
    *,
    operator: types.UInt160 | None = None,
    delay: int = UPDATE_DELAY,
    refund_blocks: int = REFUND_BLOCKS,
) -> types.UInt160:
    """Deploy a randomness service: ``[owner, operator (default: the owner), delay, refund blocks,
    keys]``."""
    nef, manifest = artifact("randomness_service")
    data = [owner, operator or owner, delay, refund_blocks, keys.public_key, keys.bls_public_key]
    return await deploy.deploy_contract(deployer, nef, manifest, data)


async def deploy_consumer(
    chain: Chain, deployer: deploy.AccountInvoker, name: str, service: types.UInt160
) -> types.UInt160:
    nef, manifest = artifact(name)
    return await deploy.deploy_contract(deployer, nef, manifest, service)


async def top_up(chain: Chain, service: types.UInt160, consumer: types.UInt160, amount: int) -> None:
    await chain.committee.invoke(
        call(CONTRACT_HASHES.GAS_TOKEN, "transfer", [chain.committee.script_hash, service, amount, consumer])
    )


async def request_via_faulty(
    chain: Chain, d: Deployment, num_words: int = 1, user_data: bytes = b""
) -> tuple[int, bytes]:
    """Make the faulty consumer request; return (requestId, seed) from the RandomnessRequested event."""
    receipt = await chain.stranger.invoke(call(d.faulty, "requestRandom", [num_words, user_data]))
    (event,) = events(receipt, "RandomnessRequested")
    return event[0].as_int(), event[3].as_bytes()
