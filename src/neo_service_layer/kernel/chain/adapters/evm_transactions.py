"""The service's sender on an EVM chain: new fulfilments through the outbox, resends and replacements.

A new transaction (``submit``): dry run (``eth_call`` and gas estimate at the pending state; a revert
raises ``TransactionReverted`` and nothing is signed), EIP-1559 fees, the sender's next nonce held
under its lock while the transaction is signed, recorded by the caller (the outbox write, in the
database transaction that moves its requests) and broadcast. A record that is refused (the lease moved)
leaves the nonce unused for the next one.

The signer is the sender key's: in production the enclave's ``evm_sign_transaction`` (which builds the
transaction from its fields and signs only calls it allows; ``evm_signers.EnclaveEvmSigner``), in tests
a local eth-account key (``evm_signers.LocalEvmSigner``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import Web3RPCError

from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain, TransactionReverted
from neo_service_layer.kernel.chain.adapters.evm_fees import Fees, FeeTooHigh
from neo_service_layer.kernel.chain.adapters.evm_nonces import NonceKeeper
from neo_service_layer.kernel.chain.ports.chain import (
    SendOutcome,
    SendResult,
    SignedTransaction,
    TransactionState,
)
from neo_service_layer.kernel.chain.ports.evm import CallReverted
from neo_service_layer.kernel.chain.ports.evm_signer import EvmSigner

#: writes a signed transaction to the outbox; False when it must not be sent (its requests moved on)
Record = Callable[[SignedTransaction], Awaitable[bool]]

_TYPE_2 = 2
#: nodes take a replacement only with both fees at least 10 % higher (geth); 12.5 % leaves a margin
_BUMP_NUMERATOR, _BUMP_DENOMINATOR = 9, 8


def decode_fields(raw: bytes) -> dict[str, Any]:
    """The fields of a signed EIP-1559 transaction (what the signer was given)."""
    if not raw or raw[0] != _TYPE_2:
        raise ValueError("not an EIP-1559 (type 2) transaction")
    decoded = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    return {
        "type": _TYPE_2,
        "chainId": int(decoded["chainId"]),
        "nonce": int(decoded["nonce"]),
        "maxPriorityFeePerGas": int(decoded["maxPriorityFeePerGas"]),
        "maxFeePerGas": int(decoded["maxFeePerGas"]),
        "gas": int(decoded["gas"]),
        "to": "0x" + bytes(decoded["to"]).hex(),
        "value": int(decoded["value"]),
        "data": bytes(decoded["data"]),
    }


def bumped(old: Fees, current: Fees) -> Fees:
    """Fees for a replacement: at least 12.5 % over the old ones, and at least what the network asks now."""
    priority = max(
        old.max_priority_fee_per_gas * _BUMP_NUMERATOR // _BUMP_DENOMINATOR + 1,
        current.max_priority_fee_per_gas,
    )
    max_fee = max(
        old.max_fee_per_gas * _BUMP_NUMERATOR // _BUMP_DENOMINATOR + 1, current.max_fee_per_gas, priority
    )
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=priority)


class EvmSender:
    """Implements ``ports.evm.EvmTransactions`` and ``EvmSubmitter`` for the sender key ``signer``.

    New transactions' fees follow ``chain``'s fee policy (which refuses above its cap); a replacement
    above ``max_fee_cap`` is not made.
    """

    def __init__(
        self,
        chain: EvmChain,
        signer: EvmSigner,
        *,
        max_fee_cap: int | None = None,
        gas_margin_percent: int = 20,
    ) -> None:
        self.chain = chain
        self.address = signer.address
        self._signer = signer
        self._max_fee_cap = max_fee_cap
        self._gas_margin = gas_margin_percent
        self._nonces = NonceKeeper(chain.pending_nonce)

    async def submit(self, to: str, data: bytes, record: Record) -> SendResult | None:
        """Dry-run, sign, ``record`` and broadcast a call of ``to``; ``None`` when ``record`` refused it.

        Raises:
            CallReverted: the dry run reverted (nothing was signed).
            FeeTooHigh: the network asks more than the cap (nothing was signed).
        """
        try:
            gas = await self.chain.dry_run({"from": self.address, "to": to, "data": data})
        except TransactionReverted as exc:
            raise CallReverted(exc.reason, exc.data) from None
        fees = await self.chain.fees()
        async with self._nonces.reserve(self.address) as reservation:
            fields = {
                "type": _TYPE_2,
                "chainId": self.chain.chain_id,
                "nonce": reservation.nonce,
                "to": to,
                "value": 0,
                "data": data,
                "gas": gas * (100 + self._gas_margin) // 100,
                "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            }
            signed = await self._signed(fields)
            if not await record(signed):
                return None
            reservation.used()  # recorded: the relay sends it if this broadcast is lost
            return await self.broadcast(signed.raw)

    async def _signed(self, fields: dict[str, Any]) -> SignedTransaction:
        signed = await self._signer.sign(
            Eip1559Transaction(
                chain_id=int(fields["chainId"]),
                nonce=int(fields["nonce"]),
                to=bytes.fromhex(str(fields["to"]).removeprefix("0x")),
                data=bytes(fields["data"]),
                gas=int(fields["gas"]),
                max_fee_per_gas=int(fields["maxFeePerGas"]),
                max_priority_fee_per_gas=int(fields["maxPriorityFeePerGas"]),
                value=int(fields["value"]),
            )
        )
        return SignedTransaction(
            tx_hash=signed.hash_text,
            raw=signed.raw,
            valid_until_block=0,  # EVM transactions never expire: the nonce decides (``ports.evm``)
            system_fee=int(fields["gas"]),
            network_fee=int(fields["maxFeePerGas"]),
        )

    async def state(self, tx_hash: str) -> TransactionState:
        receipt = await self.chain.receipt(tx_hash)
        if receipt is None:
            return TransactionState(None)
        return TransactionState(
            block=int(receipt["blockNumber"]),
            halted=int(receipt["status"]) == 1,
            exception=None if int(receipt["status"]) == 1 else "reverted",
            gas_consumed=int(receipt["gasUsed"]),
        )

    async def mined_nonce(self) -> int:
        return await self.chain.mined_nonce(self.address)

    def nonce_of(self, raw: bytes) -> int:
        return int(decode_fields(raw)["nonce"])

    async def broadcast(self, raw: bytes) -> SendResult:
        try:
            await self.chain.broadcast(raw, "0x" + keccak(raw).hex())
        except Web3RPCError as exc:
            return SendResult(SendOutcome.REJECTED, str(exc)[:500])
        return SendResult(SendOutcome.ACCEPTED)

    async def replacement(self, raw: bytes) -> SignedTransaction | None:
        fields = decode_fields(raw)
        old = Fees(fields["maxFeePerGas"], fields["maxPriorityFeePerGas"])
        try:
            current = await self.chain.fees()
        except FeeTooHigh:
            return None
        fees = bumped(old, current)
        if self._max_fee_cap is not None and fees.max_fee_per_gas > self._max_fee_cap:
            return None
        fields["maxFeePerGas"] = fees.max_fee_per_gas
        fields["maxPriorityFeePerGas"] = fees.max_priority_fee_per_gas
        return await self._signed(fields)
