"""``contracts/evm/lib/NslMessageReceiverBase.sol`` in the example receivers, on a real anvil.

``onlyGateway``: ``EchoReceiver`` and ``RevertingReceiver`` refuse a direct call with ``NotTheGateway()``,
and a second gateway (same signer, same route) delivering to them records that refusal as the message's
failure while the receiver keeps nothing. Their acceptance of their own gateway is in
``test_message_gateway_evm.py``.
"""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.wire.crosschain import XFacts, XKind
from tests.anvil_support import Anvil, dev_account
from tests.integration.crosschain.evm_gateway import (
    N3_CHAIN,
    N3_GATEWAY,
    N3_SENDER,
    Evm,
    message_digest,
    message_struct,
    selector,
    sign_digest,
    stranger,
)

pytestmark = [pytest.mark.slow]

OWNER, RELAYER, USER = dev_account(0), dev_account(1), dev_account(2)
NOT_THE_GATEWAY = selector("NotTheGateway()")


def test_a_receiver_refuses_every_caller_but_its_gateway(anvil: Anvil, evm_contracts_built: None) -> None:
    evm = Evm.on(anvil)
    signer, guard = stranger(), stranger()
    gateway = evm.deploy(OWNER, "MessageGateway", signer.address, guard.address)
    other = evm.deploy(OWNER, "MessageGateway", signer.address, guard.address)
    for g in (gateway, other):
        evm.transact(OWNER, g.functions.setRoute(N3_CHAIN, N3_GATEWAY, 0, 0, 2_000_000))
    echo = evm.deploy(OWNER, "EchoReceiver", gateway.address)
    refusing = evm.deploy(OWNER, "RevertingReceiver", gateway.address)
    for receiver in (echo, refusing):
        assert receiver.functions.gateway().call() == gateway.address
        forged = receiver.functions.onMessage(N3_CHAIN, N3_SENDER, 1, b"forged")
        assert evm.refused(USER, forged) == NOT_THE_GATEWAY

    for nonce, receiver in enumerate((echo, refusing), start=1):
        facts = XFacts(
            XKind.MESSAGE,
            N3_CHAIN,
            evm.chain_id,
            N3_GATEWAY,
            nonce,
            N3_SENDER,
            bytes.fromhex(receiver.address[2:]),
            200_000,
            b"elsewhere",
        )
        signature = sign_digest(signer, message_digest(facts))
        receipt = evm.transact(RELAYER, other.functions.deliver(message_struct(facts), signature))
        (executed,) = other.events.MessageExecuted().process_receipt(receipt)
        assert executed["args"]["ok"] is False
        assert executed["args"]["result"] == bytes.fromhex(NOT_THE_GATEWAY[2:])
    assert echo.functions.received().call() == 0
