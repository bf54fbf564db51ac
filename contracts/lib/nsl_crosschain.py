"""Cross-chain messages for neo3-boa contracts: a receiver's gateway check, a sender's result.

The message gateway (``NslMessageGateway``) calls a receiver's
``onMessage(srcChain: int, sender: bytes, nonce: int, payload: bytes) -> bytes``; start that method with
``only_gateway(gateway)``. The gateway catches a receiver's THROW (the message is FAILED and stays
retryable) and cannot catch an ABORT (the whole execution FAULTs; the relayer records it with
``markFailed``). The check ABORTs, so no contract calling ``onMessage`` inside ``try`` can catch the
refusal and go on as if the message had been taken, and the gateway's own call passes it untouched.

Sending pays GAS, so it lives in ``nsl_funds`` (``send_message``, which pays ``feeOf`` and returns the
nonce): this module makes no native call and adds no permission to a receiver's manifest. A sender reads
its message's outcome, once the receipt is back, with ``message_result``.
"""

from typing import cast

from boa3.sc import runtime
from boa3.sc.types import CallFlags, UInt160
from boa3.sc.utils import abort, call_contract


def only_gateway(gateway: UInt160):
    """ABORT (uncatchable) with ``only the message gateway`` unless the contract calling the current
    method is ``gateway`` (an unset gateway refuses everyone).

    A receiver that skips this check can be called by anyone with made-up messages."""
    if len(gateway) != 20 or runtime.calling_script_hash != gateway:
        abort("only the message gateway")


def message_result(gateway: UInt160, nonce: int) -> list:
    """The gateway's ``resultOf(nonce)``: [sender, destChain, status, attempt, result] (status 0 until a
    receipt arrives, 1 executed, 2 failed). Needs the ``resultOf`` permission."""
    return cast(list, call_contract(gateway, "resultOf", [nonce], CallFlags.READ_ONLY))
