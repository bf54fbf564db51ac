"""The message gateway on Neo N3 (``services/crosschain/contracts/message_gateway.py``): its notifications
as the service's facts, and deliveries and receipts sent through the N3 sender's outbox.

NeoVM cannot catch a callee's ABORT, so a delivery is ``[deliver; execute]`` in one transaction when its
dry run HALTs (the receiver ran, or threw: ``execute`` catches a THROW and records it). When it FAULTs
and ``deliver`` alone would HALT, the receiver aborts: ``[deliver; markFailed(reason)]`` is sent instead
(the relayer's sender is the gateway's operator), so the message is accepted and FAILED with the VM's
fault message, and stays executable by anyone. When ``deliver`` alone FAULTs, the gateway refuses the
message: its message is the refusal (nothing is sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from neo_service_layer.enclave.wire.crosschain import SignedXMessage, split_receipt_payload
from neo_service_layer.kernel.chain.ports.chain import Chain, ChainEvent, ContractCall, DryRun
from neo_service_layer.kernel.chain.ports.evm import CallReverted
from neo_service_layer.services.crosschain.adapters.outboxes import N3_OUTBOX
from neo_service_layer.services.crosschain.rules import Executed, GatewayEvent, ReceiptStored, Sent
from neo_service_layer.services.crosschain.use_cases.deliver import Record
from neo_service_layer.services.crosschain.use_cases.watch import GatewayDecoder

#: the ``chain_outbox`` service of relayed transactions on Neo N3
OUTBOX_SERVICE = N3_OUTBOX
#: the gateway's refusals (its ``abort`` messages) by the names the relay knows
_ERRORS = {
    "already delivered": "AlreadyDelivered",
    "stale receipt": "StaleReceipt",
    "delivering from this chain is paused": "DeliveringPaused",
    "unknown route": "UnknownRoute",
    "unknown source contract": "UnknownSourceContract",
    "invalid signature": "BadSignature",
    "unknown message": "UnknownMessage",
}
REASON_LIMIT = 256
#: GAS fractions the gateway keeps back around a receiver's call (``message_gateway.EXECUTE_RESERVE``)
EXECUTE_RESERVE = 5_000_000


def n3_decoder(chain_id: int) -> GatewayDecoder:
    """The gateway's notifications on the N3 network whose cross-chain id is ``chain_id``."""

    def decode(events: Sequence[ChainEvent]) -> list[GatewayEvent]:
        found: list[GatewayEvent] = []
        for e in events:
            v = e.values
            if e.name == "MessageSent" and len(v) == 7:
                found.append(
                    Sent(
                        src_chain=chain_id,
                        nonce=int(v[0]),
                        sender=bytes(v[1]),
                        dest_chain=int(v[2]),
                        receiver=bytes(v[3]),
                        payload=bytes(v[4] or b""),
                        gas_limit=int(v[5]),
                        fee=int(v[6]),
                        block=e.block,
                        tx_hash=e.tx_hash,
                    )
                )
            elif e.name == "MessageExecuted" and len(v) == 8:
                ok = bool(v[6])
                result = bytes(v[7] or b"")
                found.append(Executed(int(v[0]), int(v[1]), int(v[5]), ok, result, e.block, e.tx_hash))
            elif e.name == "ReceiptStored" and len(v) == 5:
                found.append(ReceiptStored(chain_id, int(v[0]), int(v[2]), e.block, e.tx_hash))
        return found

    return decode


class N3Gateway:
    """Implements ``use_cases.deliver.Destination`` for the gateway ``contract`` on ``chain``."""

    outbox_service = OUTBOX_SERVICE

    def __init__(self, chain: Chain, contract: str, chain_id: int) -> None:
        self._chain = chain
        self.contract = contract
        self._chain_id = chain_id

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def _call(self, method: str, *args: int | bytes | str | bool | None) -> ContractCall:
        return ContractCall(self.contract, method, args)

    async def deliver(self, signed: SignedXMessage, record: Record) -> None:
        f = signed.facts
        key = (f.src_chain, f.src_contract, f.nonce)
        accept = self._call(
            "deliver",
            f.src_chain,
            f.src_contract,
            f.nonce,
            f.sender,
            f.receiver,
            f.value,
            f.payload,
            signed.signature,
        )
        calls = [accept, self._call("execute", *key)]
        dry = await self._chain.dry_run(calls)
        if not dry.halted:
            alone = await self._chain.dry_run([accept])
            if not alone.halted:
                raise CallReverted(alone.exception or "deliver faulted", None)
            reason = f"receiver aborted: {dry.exception or 'no message'}"[:REASON_LIMIT]
            calls = [accept, self._call("markFailed", *key, reason)]
            dry = await self._chain.dry_run(calls)
            if not dry.halted:
                raise CallReverted(dry.exception or "markFailed faulted", None)
        else:
            # ``execute`` requires the receiver's whole gas limit (and the gateway's reserve) left when it
            # calls: the system fee carries them beyond what the dry run burnt
            dry = replace(dry, gas_consumed=dry.gas_consumed + f.value + EXECUTE_RESERVE)
        await self._send(calls, dry, record)

    async def deliver_receipt(self, signed: SignedXMessage, record: Record) -> None:
        f = signed.facts
        ok, result = split_receipt_payload(f.payload)
        call = self._call(
            "deliverReceipt",
            f.src_chain,
            f.src_contract,
            f.nonce,
            f.sender,
            f.receiver,
            f.value,
            ok,
            result,
            signed.signature,
        )
        dry = await self._chain.dry_run([call])
        if not dry.halted:
            raise CallReverted(dry.exception or "deliverReceipt faulted", None)
        await self._send([call], dry, record)

    async def _send(self, calls: Sequence[ContractCall], dry: DryRun, record: Record) -> None:
        tx = await self._chain.build_transaction(calls, dry)
        if await record(tx):
            await self._chain.send(tx.raw)

    def error_name(self, refusal: CallReverted) -> str:
        text = refusal.reason.lower()
        for message, name in _ERRORS.items():
            if message in text:
                return name
        return refusal.reason[:REASON_LIMIT]
