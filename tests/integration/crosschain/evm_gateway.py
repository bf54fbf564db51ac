"""Test helpers for the EVM message gateway on a real anvil: deploy and call contracts with web3 (sync,
signed locally with anvil's development keys), build the V1 digests the enclave signs
(``wire/crosschain.py``) and sign them with a local key in place of the enclave."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from neo_service_layer.enclave.wire.crosschain import (
    XFacts,
    XKind,
    n3_chain_id,
    preimage,
    receipt_payload,
)
from tests.anvil_support import REPO, Anvil

BUILD = REPO / "contracts" / "build" / "evm"
#: the N3 network the tests' messages come from (magic 42, the privnet's), and its gateway's script hash
N3_CHAIN = n3_chain_id(42)
N3_GATEWAY = bytes(range(1, 21))
N3_SENDER = bytes(range(101, 121))


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def revert_data(error: Exception) -> str:
    """The revert data (``0x`` + hex) of a refused call."""
    if isinstance(error, ContractCustomError):
        return str(error.data)
    if isinstance(error, ContractLogicError) and error.data is not None:
        return str(error.data)
    raise AssertionError(f"not a revert: {error!r}")


@dataclass
class Evm:
    """web3 on one anvil; transactions signed by local accounts, each checked by ``eth_call`` first."""

    w3: Web3
    chain_id: int

    @classmethod
    def on(cls, node: Anvil) -> Evm:
        return cls(Web3(Web3.HTTPProvider(node.url)), node.chain_id)

    def deploy(self, account: LocalAccount, name: str, *args: Any) -> Contract:
        artefact = json.loads((BUILD / f"{name}.json").read_text())
        factory = self.w3.eth.contract(abi=artefact["abi"], bytecode=artefact["bytecode"])
        receipt = self._send(account, factory.constructor(*args).build_transaction(self._base(account)))
        return cast(Contract, self.w3.eth.contract(address=receipt["contractAddress"], abi=artefact["abi"]))

    def _base(self, account: LocalAccount, value: int = 0) -> dict[str, Any]:
        return {
            "from": account.address,
            "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": self.chain_id,
            "value": value,
        }

    def _send(self, account: LocalAccount, transaction: Any) -> TxReceipt:
        signed = account.sign_transaction(transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        )
        assert receipt["status"] == 1
        return receipt

    def transact(
        self, account: LocalAccount, call: Any, *, value: int = 0, gas: int | None = None
    ) -> TxReceipt:
        """Send ``call`` (a bound contract function); raises the dry run's revert if it would revert."""
        call.call({"from": account.address, "value": value})
        transaction = call.build_transaction(self._base(account, value) | ({"gas": gas} if gas else {}))
        return self._send(account, transaction)

    def refused(self, account: LocalAccount, call: Any, *, value: int = 0) -> str:
        """The revert data of ``call`` (its dry run must revert)."""
        try:
            call.call({"from": account.address, "value": value})
        except (ContractCustomError, ContractLogicError) as exc:
            return revert_data(exc)
        raise AssertionError("the call did not revert")


def sign_digest(key: LocalAccount, digest: bytes) -> bytes:
    return bytes(key.unsafe_sign_hash(Hash32(digest)).signature)


def message_digest(facts: XFacts) -> bytes:
    return keccak(preimage(facts, keccak(facts.payload)))


def message_struct(facts: XFacts) -> tuple[Any, ...]:
    """``MessageGateway.Message`` of ``facts`` (an inbound MESSAGE)."""
    return (
        facts.src_chain,
        facts.src_contract,
        facts.nonce,
        facts.sender,
        Web3.to_checksum_address(facts.receiver),
        facts.value,
        facts.payload,
    )


def receipt_facts(
    *,
    src_chain: int,
    dest_chain: int,
    src_contract: bytes,
    nonce: int,
    sender: bytes,
    receiver: bytes,
    attempt: int,
    ok: bool,
    result: bytes,
) -> XFacts:
    return XFacts(
        XKind.RECEIPT,
        src_chain,
        dest_chain,
        src_contract,
        nonce,
        sender,
        receiver,
        attempt,
        receipt_payload(ok, result),
    )


def receipt_struct(facts: XFacts) -> tuple[Any, ...]:
    """``MessageGateway.Receipt`` of ``facts`` (a RECEIPT)."""
    return (
        facts.src_chain,
        facts.src_contract,
        facts.nonce,
        facts.sender,
        Web3.to_checksum_address(facts.receiver),
        facts.value,
        facts.payload[0] == 1,
        facts.payload[1:],
    )


def stranger() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account
