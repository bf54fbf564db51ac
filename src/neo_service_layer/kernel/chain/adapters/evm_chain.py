"""An EVM chain (Neo X, or any EVM network) over JSON-RPC: failover, fees, nonces, dry runs, receipts.

Several HTTP endpoints behind one ``RpcPool`` (sticky, back-off on transport failures; a JSON-RPC error
is an answer). Each endpoint's chain id is checked against the configured one before its first use, so
a misconfigured URL is never read or sent to. Sending a transaction:

1. ``eth_call`` of the call at the pending state: a call that reverts raises ``TransactionReverted``
   with the revert reason and is never signed or sent;
2. ``eth_estimateGas`` plus a margin; EIP-1559 fees (``evm_fees``);
3. the sender's next nonce (``evm_nonces``), the type-2 transaction's fields signed by the sender's
   ``EvmSigner`` (``ports/evm_signer.py``: the enclave's EVM sender key, or an eth-account key on the
   host for the owner's deployments and tests), broadcast (a node that already has it is fine);
4. the receipt polled until it comes or ``receipt_timeout`` passes (``ReceiptTimeout``: the transaction
   may still be mined; its hash is in the error).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import FilterParams, LogReceipt, TxParams, TxReceipt, Wei

from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction
from neo_service_layer.kernel.chain.adapters.evm_fees import FeePolicy, Fees, eip1559_fees
from neo_service_layer.kernel.chain.adapters.evm_nonces import NonceKeeper
from neo_service_layer.kernel.chain.adapters.rpc import RpcPool
from neo_service_layer.kernel.chain.adapters.shared_height import SharedHeight
from neo_service_layer.kernel.chain.ports.evm_signer import EvmSigner

#: "this endpoint did not answer" for an EVM node (a JSON-RPC error answer is not one of them)
EVM_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    aiohttp.ClientError,
    ProviderConnectionError,
)


class WrongChain(Exception):
    """An endpoint serves another chain than the configured chain id; it is never used."""


class TransactionReverted(Exception):
    """The dry run (``eth_call`` or gas estimation) reverted: nothing was signed or sent."""

    def __init__(self, reason: str, data: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data


class TransactionFailed(Exception):
    """The transaction was mined and reverted (its state changed between the dry run and the block)."""

    def __init__(self, tx_hash: str, block_number: int) -> None:
        super().__init__(f"transaction {tx_hash} reverted in block {block_number}")
        self.tx_hash = tx_hash
        self.block_number = block_number


class ReceiptTimeout(Exception):
    """The transaction was broadcast and no receipt came in time; it may still be mined."""

    def __init__(self, tx_hash: str) -> None:
        super().__init__(f"no receipt for {tx_hash} yet")
        self.tx_hash = tx_hash


@dataclass(frozen=True, slots=True)
class EvmReceipt:
    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    logs: tuple[LogReceipt, ...]
    #: the created contract's address (a deployment), else None
    contract_address: str | None = None


class _Endpoint:
    def __init__(self, url: str, timeout: float) -> None:
        provider = AsyncHTTPProvider(
            url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
            exception_retry_configuration=None,  # the pool fails over instead of retrying one node
        )
        self.w3 = AsyncWeb3(provider)
        self.checked = False


class EvmChain:
    """One EVM network: ``urls`` in order of preference, ``chain_id`` the network's EIP-155 id."""

    def __init__(
        self,
        urls: Sequence[str],
        chain_id: int,
        *,
        timeout: float = 10.0,
        fee_policy: FeePolicy | None = None,
        gas_margin_percent: int = 20,
        receipt_timeout: float = 60.0,
        receipt_poll: float = 0.2,
        height_max_age: float = 0.0,
    ) -> None:
        """``height_max_age``: a block number read less than that many seconds ago answers
        ``block_number`` (0: each call reads), shared by the process's pollers (``shared_height``)."""
        self.chain_id = chain_id
        self._height = SharedHeight(self._read_block_number, height_max_age)
        self._endpoints = [_Endpoint(url, timeout) for url in urls]
        self._pool: RpcPool[_Endpoint] = RpcPool(
            [(url, e) for url, e in zip(urls, self._endpoints, strict=True)],
            transport_errors=EVM_TRANSPORT_ERRORS,
            network="EVM",
        )
        self._fees = fee_policy or FeePolicy()
        self._gas_margin = gas_margin_percent
        self._receipt_timeout = receipt_timeout
        self._receipt_poll = receipt_poll
        self._nonces = NonceKeeper(self._pending_count)

    @property
    def pool(self) -> RpcPool[_Endpoint]:
        return self._pool

    async def close(self) -> None:
        for endpoint in self._endpoints:
            await endpoint.w3.provider.disconnect()

    async def _call[T](self, operation: Callable[[AsyncWeb3[Any]], Awaitable[T]]) -> T:
        async def checked(endpoint: _Endpoint) -> T:
            if not endpoint.checked:
                served = await endpoint.w3.eth.chain_id
                if served != self.chain_id:
                    raise WrongChain(f"an endpoint serves chain {served}, not {self.chain_id}")
                endpoint.checked = True
            return await operation(endpoint.w3)

        return await self._pool.call(checked)

    def contract(self, address: str, abi: list[dict[str, Any]]) -> Any:
        """A web3 contract object for encoding calls and decoding logs (never for sending)."""
        return self._endpoints[0].w3.eth.contract(address=AsyncWeb3.to_checksum_address(address), abi=abi)

    async def block_number(self) -> int:
        return await self._height.read()

    async def _read_block_number(self) -> int:
        return int(await self._call(lambda w3: w3.eth.block_number))

    async def block_header(self, index: int) -> tuple[str, int]:
        """Hash (``0x`` hex) and timestamp (seconds) of block ``index``."""
        block = await self._call(lambda w3: w3.eth.get_block(index))
        return "0x" + bytes(block["hash"]).hex(), int(block["timestamp"])

    async def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The transaction's receipt, ``None`` while it is not in a block."""
        try:
            receipt: TxReceipt = await self._call(
                lambda w3: w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            )
        except TransactionNotFound:
            return None
        return receipt

    async def code(self, address: str) -> bytes:
        """The code at ``address`` (empty: no contract there)."""
        checksum = AsyncWeb3.to_checksum_address(address)
        return bytes(await self._call(lambda w3: w3.eth.get_code(checksum)))

    async def mined_nonce(self, address: str) -> int:
        """How many of ``address``'s transactions are in blocks (the next nonce a block can include)."""
        checksum = AsyncWeb3.to_checksum_address(address)
        return int(await self._call(lambda w3: w3.eth.get_transaction_count(checksum, "latest")))

    async def pending_nonce(self, address: str) -> int:
        """The next nonce of ``address`` counting its transactions the node holds but has not mined."""
        return await self._pending_count(address)

    async def broadcast(self, raw: bytes, tx_hash: str) -> None:
        """Send a signed transaction; a node that already has it is fine. ``Web3RPCError`` if refused."""
        await self._broadcast(raw, tx_hash)

    async def get_logs(self, params: FilterParams) -> list[LogReceipt]:
        return list(await self._call(lambda w3: w3.eth.get_logs(params)))

    async def balance(self, address: str) -> int:
        return int(await self._call(lambda w3: w3.eth.get_balance(AsyncWeb3.to_checksum_address(address))))

    async def read(self, call: TxParams) -> bytes:
        """``eth_call`` at the latest block; a revert raises ``TransactionReverted``."""
        try:
            return bytes(await self._call(lambda w3: w3.eth.call(call, "latest")))
        except ContractLogicError as exc:
            raise TransactionReverted(str(exc.message), _hex(exc.data)) from None

    async def fees(self) -> Fees:
        block = await self._call(lambda w3: w3.eth.get_block("latest"))
        priority = await self._call(lambda w3: w3.eth.max_priority_fee)
        return eip1559_fees(int(block.get("baseFeePerGas", 0)), int(priority), self._fees)

    async def _pending_count(self, address: str) -> int:
        checksum = AsyncWeb3.to_checksum_address(address)
        return int(await self._call(lambda w3: w3.eth.get_transaction_count(checksum, "pending")))

    async def dry_run(self, call: TxParams) -> int:
        """Run ``call`` as ``eth_call`` at the pending state, then estimate its gas.

        Raises:
            TransactionReverted: either reverted.
        """
        try:
            await self._call(lambda w3: w3.eth.call(call, "pending"))
            return int(await self._call(lambda w3: w3.eth.estimate_gas(call, "pending")))
        except ContractLogicError as exc:
            raise TransactionReverted(str(exc.message), _hex(exc.data)) from None

    async def send(self, sender: EvmSigner, to: str | None, data: bytes, *, value: int = 0) -> EvmReceipt:
        """Dry-run, sign with ``sender`` and send a call of ``to`` (None: create a contract, ``data`` its
        init code); wait for its receipt.

        Raises:
            TransactionReverted: the dry run reverted (nothing was sent).
            TransactionFailed: mined and reverted. ReceiptTimeout: no receipt in time.
            ChainUnavailable: no endpoint answered. FeeTooHigh: above the fee cap (nothing was sent).
        """
        call: TxParams = {"from": sender.address, "data": HexBytes(data), "value": Wei(value)}
        target = None if to is None else AsyncWeb3.to_checksum_address(to)
        if target is not None:
            call["to"] = target
        gas = await self.dry_run(call)
        fees = await self.fees()
        async with self._nonces.reserve(sender.address) as reservation:
            transaction = Eip1559Transaction(
                chain_id=self.chain_id,
                nonce=reservation.nonce,
                to=None if target is None else bytes.fromhex(target[2:]),
                data=data,
                gas=gas * (100 + self._gas_margin) // 100,
                max_fee_per_gas=fees.max_fee_per_gas,
                max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
                value=value,
            )
            signed = await sender.sign(transaction)
            tx_hash = signed.hash_text
            await self._broadcast(signed.raw, tx_hash)
            reservation.used()
        return await self.wait_for_receipt(tx_hash)

    async def _broadcast(self, raw: bytes, tx_hash: str) -> None:
        try:
            await self._call(lambda w3: w3.eth.send_raw_transaction(raw))
        except Web3RPCError:
            # refused: unless the node already has this very transaction (a retry after a lost answer)
            try:
                await self._call(lambda w3: w3.eth.get_transaction(HexBytes(tx_hash)))
            except TransactionNotFound:
                pass
            else:
                return
            raise

    async def wait_for_receipt(self, tx_hash: str) -> EvmReceipt:
        deadline = time.monotonic() + self._receipt_timeout
        while True:
            try:
                receipt: TxReceipt = await self._call(
                    lambda w3: w3.eth.get_transaction_receipt(HexBytes(tx_hash))
                )
            except TransactionNotFound:
                if time.monotonic() >= deadline:
                    raise ReceiptTimeout(tx_hash) from None
                await asyncio.sleep(self._receipt_poll)
                continue
            if int(receipt["status"]) != 1:
                raise TransactionFailed(tx_hash, int(receipt["blockNumber"]))
            return EvmReceipt(
                tx_hash=tx_hash,
                block_number=int(receipt["blockNumber"]),
                gas_used=int(receipt["gasUsed"]),
                effective_gas_price=int(receipt.get("effectiveGasPrice", 0)),
                logs=tuple(receipt["logs"]),
                contract_address=receipt.get("contractAddress"),
            )


def _hex(data: Any) -> str | None:
    if data is None:
        return None
    if isinstance(data, bytes | bytearray):
        return "0x" + bytes(data).hex()
    return str(data)
