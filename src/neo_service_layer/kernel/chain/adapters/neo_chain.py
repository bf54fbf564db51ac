"""``NeoChain``: the ``Chain`` port over neo-mamba's RPC client, with enclave signing and RPC failover.

Transactions are built here rather than by ``ChainFacade.invoke`` because of three library defaults
that matter for correctness: the facade sends a script even when its fee dry-run FAULTs, ``TxBuilder``
uses a fixed nonce (123), and signing needs the private key in this process. Here the caller's dry-run
decides (a faulting script is never built), the nonce is random, ``validUntilBlock`` comes from config
and the witness comes from the enclave.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from neo3 import vm
from neo3.api import noderpc
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types
from neo3.network.payloads import transaction, verification
from neo3.wallet import utils as wallet_utils

from neo_service_layer.kernel.chain.adapters.rpc import RpcPool
from neo_service_layer.kernel.chain.adapters.shared_height import SharedHeight
from neo_service_layer.kernel.chain.adapters.signing import EnclaveAccount, TransactionSigner
from neo_service_layer.kernel.chain.ports.chain import (
    HALT,
    BlockEvents,
    ChainCallFaulted,
    ChainEvent,
    ContractCall,
    ContractHash,
    DryRun,
    Hash256,
    SendOutcome,
    SendResult,
    SignedTransaction,
    TransactionState,
)

#: JSON-RPC error codes of ``sendrawtransaction`` meaning "the node has this transaction already"
_ALREADY_KNOWN = {-501, -503}
_METHOD_NOT_FOUND = -32601


def uint160(value: str | types.UInt160) -> types.UInt160:
    """A script hash from ``0x``-hex (big-endian, as shown by nodes), an address, or a ``UInt160``."""
    if isinstance(value, types.UInt160):
        return value
    if value.startswith("N") and len(value) == 34:
        hash_: types.UInt160 = wallet_utils.address_to_script_hash(value)
        return hash_
    return types.UInt160.from_string(value.removeprefix("0x"))


def hash_text(value: types.UInt160 | types.UInt256) -> str:
    return f"0x{value}"


def script_for(calls: Sequence[ContractCall]) -> bytes:
    """One script calling each of ``calls`` in order (results stay on the stack)."""
    builder = vm.ScriptBuilder()  # type: ignore[no-untyped-call]
    for call in calls:
        builder.emit_contract_call_with_args(uint160(call.contract), call.method, list(call.args))
    script: bytes = builder.to_array()
    return script


def decode_item(item: noderpc.StackItem) -> Any:
    """A neo-mamba stack item as plain Python (byte strings stay ``bytes``)."""
    kind = item.type
    if kind in (
        noderpc.StackItemType.ARRAY,
        noderpc.StackItemType.STRUCT,
        noderpc.StackItemType.INTEROP_INTERFACE,
    ):
        return tuple(decode_item(i) for i in item.value)
    if kind is noderpc.StackItemType.MAP:
        return {decode_item(k): decode_item(v) for k, v in item.value}
    if kind is noderpc.StackItemType.BYTE_STRING or kind is noderpc.StackItemType.BUFFER:
        return bytes(item.value)
    return item.value


def _event(block: int, raw: dict[str, Any], vmstate: str = HALT) -> ChainEvent:
    notification = noderpc.Notification.from_json(raw)
    values = decode_item(notification.state)
    return ChainEvent(
        block=block,
        tx_hash=str(raw.get("container", "")),
        contract=hash_text(notification.contract),
        name=notification.event_name,
        values=values if isinstance(values, tuple) else (values,),
        vmstate=vmstate,
    )


class NeoRpcEndpoint:
    """One RPC node: neo-mamba's client plus the few calls it lacks (neo-go's ``getblocknotifications``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.client = noderpc.NeoRpcClient(url, timeout=timeout)
        self.block_notifications_supported = True

    async def close(self) -> None:
        await self.client.close()  # type: ignore[no-untyped-call]

    async def post(self, method: str, params: list[Any]) -> Any:
        return await self.client._do_post(method, params)

    async def block_events(self, index: int, contract: str) -> tuple[list[ChainEvent], str]:
        """Events of ``contract`` in block ``index`` and the block hash.

        neo-go's ``getblocknotifications`` returns only notifications of HALTed executions (the node
        filters them), so those are marked HALT. Read from ``getapplicationlog``, every execution's
        notifications come back marked with its ``vmstate``: the caller decides (the watcher drops
        and counts the ones that did not HALT).
        """
        block_hash = str(await self.post("getblockhash", [index]))
        if self.block_notifications_supported:
            try:
                result = await self.post("getblocknotifications", [block_hash, {"contract": contract}])
            except noderpc.JsonRpcError as exc:
                if exc.code != _METHOD_NOT_FOUND:
                    raise
                self.block_notifications_supported = False  # a C# node: read the transactions' logs
            else:
                return [_event(index, n) for n in result.get("application") or []], block_hash
        block = await self.post("getblock", [index, 1])
        events: list[ChainEvent] = []
        for tx in block.get("tx", []):
            log = await self.post("getapplicationlog", [tx["hash"]])
            for execution in log.get("executions", []):
                vmstate = str(execution.get("vmstate") or "NONE")
                for n in execution.get("notifications", []):
                    if n.get("contract") == contract:
                        events.append(_event(index, {**n, "container": tx["hash"]}, vmstate))
        return events, block_hash

    async def block_time(self, index: int) -> datetime:
        header = await self.post("getblockheader", [index, 1])
        return datetime.fromtimestamp(int(header["time"]) / 1000, UTC)


class NeoChain:
    """Implements ``ports.chain.Chain``."""

    def __init__(
        self,
        pool: RpcPool[NeoRpcEndpoint],
        *,
        magic: int,
        sender: EnclaveAccount,
        sign: TransactionSigner,
        valid_until_blocks: int,
        system_fee_margin: float = 0.0,
        height_max_age: float = 0.0,
        height_counted: Callable[[bool], None] | None = None,
    ) -> None:
        """``height_max_age``: a height read less than that many seconds ago answers ``height`` (0: each
        call reads), so the pollers of one process share one read (``adapters.shared_height``)."""
        self.pool = pool
        self._height = SharedHeight(self._read_height, height_max_age, counted=height_counted)
        self._magic = magic
        self._account = sender
        self._sign = sign
        self._valid_until_blocks = valid_until_blocks
        self._margin = system_fee_margin
        self._signer = verification.Signer(sender.script_hash, verification.WitnessScope.CALLED_BY_ENTRY)

    @property
    def magic(self) -> int:
        return self._magic

    @property
    def sender(self) -> str:
        return self._account.address

    @property
    def sender_account(self) -> EnclaveAccount:
        return self._account

    async def height(self) -> int:
        return await self._height.read()

    async def _read_height(self) -> int:
        count: int = await self.pool.call(lambda ep: ep.client.get_block_count())
        return count - 1

    async def block_events(self, index: int, contract: ContractHash) -> BlockEvents:
        events, block_hash = await self.pool.call(lambda ep: ep.block_events(index, contract))
        when = await self.pool.call(lambda ep: ep.block_time(index)) if events else None
        return BlockEvents(index, when, tuple(events), block_hash)

    async def block_time(self, index: int) -> datetime:
        when: datetime = await self.pool.call(lambda ep: ep.block_time(index))
        return when

    async def dry_run(self, calls: Sequence[ContractCall]) -> DryRun:
        script = script_for(calls)
        result = await self.pool.call(lambda ep: ep.client.invoke_script(script, [self._signer]))
        return DryRun(
            halted=result.state == "HALT",
            gas_consumed=int(result.gas_consumed),
            exception=result.exception,
            stack=tuple(decode_item(i) for i in result.stack),
            events=tuple(
                ChainEvent(
                    -1, "", hash_text(n.contract), n.event_name, _tuple(decode_item(n.state)), result.state
                )
                for n in result.notifications
            ),
        )

    async def build_transaction(self, calls: Sequence[ContractCall], dry_run: DryRun) -> SignedTransaction:
        if not dry_run.halted:
            raise ValueError(f"refusing to build a transaction whose dry-run faults: {dry_run.exception}")
        script = script_for(calls)
        count: int = await self.pool.call(lambda ep: ep.client.get_block_count())
        tx = transaction.Transaction(
            version=0,
            nonce=secrets.randbits(32),
            system_fee=dry_run.gas_consumed + int(dry_run.gas_consumed * self._margin),
            network_fee=0,
            valid_until_block=count + self._valid_until_blocks,
            attributes=[],
            signers=[self._signer],
            script=script,
        )
        tx.witnesses = [verification.Witness(b"", self._account.verification_script)]
        tx.network_fee = await self.pool.call(lambda ep: ep.client.calculate_network_fee(tx))
        tx.witnesses = []
        await self._sign(tx, self._magic, count - 1)
        return SignedTransaction(
            tx_hash=hash_text(tx.hash()),
            raw=tx.to_array(),
            valid_until_block=tx.valid_until_block,
            system_fee=tx.system_fee,
            network_fee=tx.network_fee,
        )

    async def send(self, raw: bytes) -> SendResult:
        payload = base64.b64encode(raw).decode()
        try:
            await self.pool.call(lambda ep: ep.post("sendrawtransaction", [payload]))
        except noderpc.JsonRpcError as exc:
            if exc.code in _ALREADY_KNOWN:
                return SendResult(SendOutcome.KNOWN, str(exc))
            return SendResult(SendOutcome.REJECTED, str(exc))
        return SendResult(SendOutcome.ACCEPTED)

    async def transaction_state(self, tx_hash: Hash256) -> TransactionState:
        try:
            height = int(await self.pool.call(lambda ep: ep.post("gettransactionheight", [tx_hash])))
        except noderpc.JsonRpcError:
            return TransactionState(None)  # unknown to the node: not included (yet)
        log = await self.pool.call(lambda ep: ep.post("getapplicationlog", [tx_hash]))
        execution = (log.get("executions") or [{}])[0]
        gas = execution.get("gasconsumed")
        return TransactionState(
            height,
            execution.get("vmstate") == "HALT",
            execution.get("exception"),
            int(gas) if gas is not None else None,
        )

    async def gas_balance(self, account: str | None = None) -> int:
        who = uint160(account) if account else self._account.script_hash
        stack = await self.read(
            ContractCall(hash_text(CONTRACT_HASHES.GAS_TOKEN), "balanceOf", (who.to_array(),))
        )
        return int(stack[0])

    async def read(self, call: ContractCall) -> tuple[Any, ...]:
        script = script_for([call])
        result = await self.pool.call(lambda ep: ep.client.invoke_script(script))
        if result.state != "HALT":
            raise ChainCallFaulted(result.exception or "FAULT")
        return tuple(decode_item(i) for i in result.stack)

    async def version_magic(self) -> int:
        version = await self.pool.call(lambda ep: ep.client.get_version())
        magic: int = version.protocol.network
        return magic


def _tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


async def fetch_magic(pool: RpcPool[NeoRpcEndpoint]) -> int:
    version = await pool.call(lambda ep: ep.client.get_version())
    magic: int = version.protocol.network
    return magic
