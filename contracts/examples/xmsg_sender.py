"""Example sender of cross-chain messages on Neo N3: a contract that sends a message to Neo X and reads
the answer back on its own chain.

``ask(destChain, receiver, payload, gasLimit)`` pays the gateway's fee from this contract's GAS (top it
up by transferring GAS to it) with a GAS transfer whose data is the message (``lib.nsl_funds``'s
``send_message``), and returns the message's nonce. ``answerOf(nonce)`` is the gateway's ``resultOf``
(``lib.nsl_crosschain``'s ``message_result``): [sender, destChain, status, attempt, result].
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import GasToken
from boa3.sc.types import UInt160
from boa3.sc.utils import abort
from lib.nsl_crosschain import message_result
from lib.nsl_funds import send_message

KEY_GATEWAY = b"g"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslXmsgSender"
    meta.add_permission(contract="*", methods=["transfer", "feeOf", "nonce", "resultOf"])
    return meta


@public
def _deploy(data: Any, update: bool):
    if not update:
        storage.put_uint160(KEY_GATEWAY, cast(UInt160, data))


@public
def onNEP17Payment(from_address: UInt160 | None, amount: int, data: Any):
    if runtime.calling_script_hash != GasToken.hash:
        abort("only GAS is accepted")


@public
def ask(destChain: int, receiver: bytes, payload: bytes, gasLimit: int) -> int:
    return send_message(storage.get_uint160(KEY_GATEWAY), destChain, receiver, payload, gasLimit)


@public(name="answerOf", safe=True)
def answer_of(nonce: int) -> list:
    return message_result(storage.get_uint160(KEY_GATEWAY), nonce)
