"""Send transactions on the local private network: the dev committee account, deploy and fund.

Every send is dry-run first (``test_invoke``) and refused when the script would FAULT (unless sent
to FAULT on purpose, ``allow_fault=True``: tests of what a FAULT leaves on chain), gets a random nonce
(neo-mamba's ``TxBuilder`` always uses 123, which makes equal transactions collide) and waits for its
receipt with explicit receipt timing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from neo3.api import noderpc
from neo3.api.helpers import signing, txbuilder
from neo3.api.wrappers import ChainFacade, ContractMethodResult, GenericContract, InvokeReceipt, NEP17Contract
from neo3.contracts import manifest, nef
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.network.payloads import verification
from neo3.wallet import account
from neo3.wallet.wallet import Wallet

from neo_service_layer.kernel.chain.adapters.privnet import DEV_WALLET_PASSWORD, DEV_WALLET_PATH

T = TypeVar("T")
SigningPair: TypeAlias = tuple[signing.SigningFunction, verification.Signer]

#: 1 GAS in its smallest unit (GAS has 8 decimals).
GAS: int = 100_000_000
_GAS_TOKEN = NEP17Contract(CONTRACT_HASHES.GAS_TOKEN)


class ScriptFault(Exception):
    """A dry-run of the script FAULTed, so nothing was sent."""

    def __init__(self, exception: str | None, gas_consumed: int) -> None:
        super().__init__(f"script faults: {exception}")
        self.exception = exception or ""
        self.gas_consumed = gas_consumed


class TransactionFailed(Exception):
    """A sent transaction was included in a block but did not HALT (chain state changed after the dry-run)."""

    def __init__(self, tx_hash: types.UInt256, exception: str | None) -> None:
        super().__init__(f"transaction {tx_hash} faulted on chain: {exception}")
        self.tx_hash = tx_hash
        self.exception = exception or ""


@dataclass(frozen=True, slots=True)
class DevAccounts:
    """The public DEV-ONLY validator account and the committee (1-of-1 multisig over its key)."""

    validator: account.Account
    committee: account.Account


def load_dev_accounts(
    wallet_path: Path = DEV_WALLET_PATH, password: str = DEV_WALLET_PASSWORD
) -> DevAccounts:
    """Decrypt the dev validator wallet and derive the committee account that holds all NEO and GAS."""
    data = json.loads(wallet_path.read_text())
    wallet = Wallet.from_json(data, passwords=[password] * len(data["accounts"]))
    validator = next(acc for acc in wallet.accounts if acc.is_single_sig and not acc.is_watchonly)
    committee = next(acc for acc in wallet.accounts if acc.is_multisig and not acc.is_watchonly)
    return DevAccounts(validator=validator, committee=committee)


def make_facade(rpc_url: str, block_time: float) -> ChainFacade:
    """A ``ChainFacade`` with receipt polling set for ``block_time`` (the library default is 2 blocks)."""
    return ChainFacade(
        rpc_host=rpc_url,
        receipt_retry_delay=max(block_time / 5, 0.02),
        receipt_timeout=max(block_time * 20, 10.0),
        rpc_timeout=10.0,
    )


def signing_pair(
    acc: account.Account, scope: verification.WitnessScope = verification.WitnessScope.CALLED_BY_ENTRY
) -> SigningPair:
    """The signing function and ``Signer`` for ``acc`` (multisig accounts sign as 1-of-n)."""
    func = signing.sign_with_multisig_account(acc) if acc.is_multisig else signing.sign_with_account(acc)
    return func, verification.Signer(acc.script_hash, scope)


class AccountInvoker:
    """Runs contract calls as one account: dry-run, then send with a fresh nonce and wait for the receipt."""

    def __init__(
        self,
        facade: ChainFacade,
        acc: account.Account,
        *,
        receipt_timeout: float,
        receipt_retry_delay: float,
        scope: verification.WitnessScope = verification.WitnessScope.CALLED_BY_ENTRY,
    ) -> None:
        self.facade = facade
        self.account = acc
        self.receipt_timeout = receipt_timeout
        self.receipt_retry_delay = receipt_retry_delay
        self.signers: list[SigningPair] = [signing_pair(acc, scope)]

    @property
    def script_hash(self) -> types.UInt160:
        hash_: types.UInt160 = self.account.script_hash
        return hash_

    async def test(self, call: ContractMethodResult[T]) -> InvokeReceipt[T]:
        """Dry-run ``call`` with this account as signer; the receipt tells HALT or FAULT (``.state``)."""
        receipt: InvokeReceipt[T] = await self.facade.test_invoke(call, signers=self.signers)
        return receipt

    async def invoke(
        self, call: ContractMethodResult[T], *, append_system_fee: int = 0, allow_fault: bool = False
    ) -> InvokeReceipt[T]:
        """Send ``call`` and wait until it is in a block.

        ``allow_fault``: send it even when the dry-run FAULTs (the system fee is the GAS the dry-run
        consumed up to its fault, plus ``append_system_fee``) and return the FAULTed receipt (its
        ``result`` is the raw execution) instead of raising. Only for tests of what a FAULTed
        transaction leaves on chain.

        Raises:
            ScriptFault: the dry-run FAULTed; nothing was sent (not with ``allow_fault``).
            TransactionFailed: the transaction FAULTed on chain (not with ``allow_fault``).
        """
        dry = await self.facade.test_invoke_raw(call, signers=self.signers)
        if dry.result.state != "HALT" and not allow_fault:
            raise ScriptFault(dry.result.exception, dry.result.gas_consumed)
        async with noderpc.NeoRpcClient(self.facade.rpc_host, timeout=10.0) as client:
            builder = txbuilder.TxBuilder(client, call.script)
            await builder.init()
            builder.tx.nonce = secrets.randbits(32)
            for func, signer in self.signers:
                builder.add_signer(func, signer)
            await builder.set_valid_until_block(100)
            builder.tx.system_fee = dry.result.gas_consumed + append_system_fee
            # witnesses are needed to price verification; the fee is part of what is signed, so sign twice
            builder.tx.network_fee = 999  # provisional: a zero fee fails neo-mamba's pre-sign check
            await builder.build_and_sign()
            await builder.calculate_network_fee()
            builder.tx.witnesses = []
            tx = await builder.build_and_sign()
            tx_hash = await client.send_transaction(tx)
            receipt = await client.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout, retry_delay=self.receipt_retry_delay
            )
        execution = receipt.execution
        if execution.state != "HALT" and not allow_fault:
            raise TransactionFailed(tx_hash, execution.exception)
        result: Any = execution
        if call.execution_processor is not None and execution.state == "HALT":
            result = call.execution_processor(execution, 0)
        return InvokeReceipt[T](
            receipt.tx_hash,
            receipt.included_in_block,
            receipt.confirmations,
            execution.gas_consumed,
            execution.state,
            execution.exception,
            execution.notifications,
            result,
        )


def committee_invoker(
    facade: ChainFacade, block_time: float, accounts: DevAccounts | None = None
) -> AccountInvoker:
    """An invoker for the committee account of the dev wallet (rich in NEO and GAS)."""
    accounts = accounts or load_dev_accounts()
    return AccountInvoker(
        facade,
        accounts.committee,
        receipt_timeout=max(block_time * 20, 10.0),
        receipt_retry_delay=max(block_time / 5, 0.02),
    )


def load_contract(nef_path: Path, manifest_path: Path) -> tuple[nef.NEF, manifest.ContractManifest]:
    """Read a compiled contract (``.nef`` and ``.manifest.json``)."""
    return nef.NEF.from_file(str(nef_path)), manifest.ContractManifest.from_file(str(manifest_path))


async def deploy_contract(
    invoker: AccountInvoker,
    nef_path: Path,
    manifest_path: Path,
    data: Any = None,
) -> types.UInt160:
    """Deploy a compiled contract through ``ContractManagement`` and return its hash.

    ``data`` is handed to the contract's ``_deploy``. The hash depends only on the sender, the NEF
    checksum and the name, so the same contract deployed by the committee has the same hash on every
    fresh privnet.
    """
    nef_file, manifest_file = load_contract(nef_path, manifest_path)
    receipt = await invoker.invoke(GenericContract.deploy(nef_file, manifest_file, data))
    contract_hash: types.UInt160 = receipt.result
    return contract_hash


async def fund(invoker: AccountInvoker, to: types.UInt160 | str, amount: int) -> types.UInt256:
    """Transfer ``amount`` GAS fractions (1 GAS = 10^8) from the invoker's account to ``to``.

    Returns:
        the transaction hash.
    """
    receipt = await invoker.invoke(_GAS_TOKEN.transfer(invoker.script_hash, to, amount))
    if receipt.result is not True:
        raise TransactionFailed(receipt.tx_hash, "GAS transfer returned false")
    tx_hash: types.UInt256 = receipt.tx_hash
    return tx_hash


async def gas_balance(facade: ChainFacade, who: types.UInt160 | str) -> int:
    """GAS balance of ``who`` in fractions."""
    receipt = await facade.test_invoke(_GAS_TOKEN.balance_of(who))
    balance: int = receipt.result
    return balance
