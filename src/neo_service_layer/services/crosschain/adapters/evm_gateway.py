"""The message gateway on an EVM chain (``contracts/evm/MessageGateway.sol``): its events as the
service's facts, and ``deliver`` / ``deliverReceipt`` sent through the EVM sender's outbox.

The ABI fragments used are written below (a test checks them against the compiled contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from web3 import AsyncWeb3

from neo_service_layer.enclave.wire.crosschain import SignedXMessage, split_receipt_payload
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_errors import CustomErrors
from neo_service_layer.kernel.chain.adapters.evm_transactions import EvmSender
from neo_service_layer.kernel.chain.ports.chain import ChainEvent
from neo_service_layer.kernel.chain.ports.evm import CallReverted
from neo_service_layer.services.crosschain.adapters.outboxes import EVM_OUTBOX
from neo_service_layer.services.crosschain.rules import Executed, GatewayEvent, ReceiptStored, Sent
from neo_service_layer.services.crosschain.use_cases.deliver import Record
from neo_service_layer.services.crosschain.use_cases.watch import GatewayDecoder

#: the ``chain_outbox`` service of relayed transactions on the EVM chain
OUTBOX_SERVICE = EVM_OUTBOX


def _in(name: str, type_: str, indexed: bool | None = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "type": type_, **extra}
    if indexed is not None:
        entry["indexed"] = indexed
    return entry


_MESSAGE = [
    _in("srcChain", "uint64"),
    _in("srcContract", "bytes"),
    _in("nonce", "uint64"),
    _in("sender", "bytes"),
    _in("receiver", "address"),
    _in("gasLimit", "uint64"),
    _in("payload", "bytes"),
]
_RECEIPT = [
    _in("srcChain", "uint64"),
    _in("srcContract", "bytes"),
    _in("nonce", "uint64"),
    _in("sender", "bytes"),
    _in("receiver", "address"),
    _in("attempt", "uint64"),
    _in("ok", "bool"),
    _in("result", "bytes"),
]
#: the parts of MessageGateway's ABI used here
ABI: list[dict[str, Any]] = [
    {
        "type": "event",
        "name": "MessageSent",
        "anonymous": False,
        "inputs": [
            _in("nonce", "uint256", True),
            _in("sender", "address", True),
            _in("destChain", "uint256", False),
            _in("receiver", "bytes", False),
            _in("payload", "bytes", False),
            _in("gasLimit", "uint256", False),
            _in("fee", "uint256", False),
        ],
    },
    {
        "type": "event",
        "name": "MessageExecuted",
        "anonymous": False,
        "inputs": [
            _in("srcChain", "uint256", True),
            _in("nonce", "uint256", True),
            _in("srcContract", "bytes20", False),
            _in("sender", "bytes20", False),
            _in("receiver", "address", True),
            _in("attempt", "uint256", False),
            _in("ok", "bool", False),
            _in("result", "bytes", False),
        ],
    },
    {
        "type": "event",
        "name": "ReceiptStored",
        "anonymous": False,
        "inputs": [
            _in("nonce", "uint256", True),
            _in("srcChain", "uint256", False),
            _in("attempt", "uint256", False),
            _in("ok", "bool", False),
            _in("result", "bytes", False),
        ],
    },
    {
        "type": "function",
        "name": "deliver",
        "stateMutability": "nonpayable",
        "inputs": [_in("m", "tuple", components=_MESSAGE), _in("signature", "bytes")],
        "outputs": [_in("ok", "bool")],
    },
    {
        "type": "function",
        "name": "deliverReceipt",
        "stateMutability": "nonpayable",
        "inputs": [_in("r", "tuple", components=_RECEIPT), _in("signature", "bytes")],
        "outputs": [],
    },
]

#: the gateway's custom errors by selector (hex, no prefix)
_ERRORS = CustomErrors(
    "UnknownRoute(uint256)",
    "DeliveringPaused(uint256)",
    "UnknownSourceContract(uint256)",
    "BadAccount()",
    "BadSignature()",
    "AlreadyDelivered(uint256,uint256)",
    "MessageMismatch()",
    "NotEnoughGasForCall(uint256)",
    "UnknownMessage(uint256)",
    "StaleReceipt(uint256,uint256)",
    "ResultTooLarge(uint256,uint256)",
    "BadChainId()",
)


def evm_decoder(chain_id: int) -> GatewayDecoder:
    """The gateway's logs on the EVM chain ``chain_id`` as the service's facts."""

    def decode(events: Sequence[ChainEvent]) -> list[GatewayEvent]:
        found: list[GatewayEvent] = []
        for e in events:
            v = e.values
            if e.name == "MessageSent" and len(v) == 7:
                found.append(
                    Sent(
                        src_chain=chain_id,
                        nonce=int(v[0]),
                        sender=bytes.fromhex(str(v[1])[2:]),
                        dest_chain=int(v[2]),
                        receiver=bytes(v[3]),
                        payload=bytes(v[4]),
                        gas_limit=int(v[5]),
                        fee=int(v[6]),
                        block=e.block,
                        tx_hash=e.tx_hash,
                    )
                )
            elif e.name == "MessageExecuted" and len(v) == 8:
                found.append(
                    Executed(int(v[0]), int(v[1]), int(v[5]), bool(v[6]), bytes(v[7]), e.block, e.tx_hash)
                )
            elif e.name == "ReceiptStored" and len(v) == 5:
                found.append(ReceiptStored(chain_id, int(v[0]), int(v[2]), e.block, e.tx_hash))
        return found

    return decode


class EvmGateway:
    """Implements ``use_cases.deliver.Destination`` for the gateway at ``address`` on ``chain``."""

    outbox_service = OUTBOX_SERVICE

    def __init__(self, chain: EvmChain, address: str, sender: EvmSender) -> None:
        self.chain = chain
        self.address = AsyncWeb3.to_checksum_address(address)
        self._sender = sender
        self._contract = chain.contract(self.address, ABI)

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def deliver_data(self, signed: SignedXMessage) -> bytes:
        f = signed.facts
        message = (f.src_chain, f.src_contract, f.nonce, f.sender, _address(f.receiver), f.value, f.payload)
        return _bytes(self._contract.encode_abi("deliver", args=[message, signed.signature]))

    def receipt_data(self, signed: SignedXMessage) -> bytes:
        f = signed.facts
        ok, result = split_receipt_payload(f.payload)
        receipt = (f.src_chain, f.src_contract, f.nonce, f.sender, _address(f.receiver), f.value, ok, result)
        return _bytes(self._contract.encode_abi("deliverReceipt", args=[receipt, signed.signature]))

    async def deliver(self, signed: SignedXMessage, record: Record) -> None:
        await self._sender.submit(self.address, self.deliver_data(signed), record)

    async def deliver_receipt(self, signed: SignedXMessage, record: Record) -> None:
        await self._sender.submit(self.address, self.receipt_data(signed), record)

    def error_name(self, refusal: CallReverted) -> str:
        return _ERRORS.name(refusal.data) or refusal.reason


def _address(raw: bytes) -> str:
    return AsyncWeb3.to_checksum_address("0x" + raw.hex())


def _bytes(encoded: Any) -> bytes:
    return bytes.fromhex(str(encoded).removeprefix("0x"))
