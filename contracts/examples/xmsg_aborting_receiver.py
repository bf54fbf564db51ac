"""Example receiver of cross-chain messages on Neo N3 that ABORTs on every message.

An ABORT cannot be caught: executing a message to this contract FAULTs the whole transaction. The
relayer then records the attempt with the gateway's ``markFailed`` (the VM's fault message as the
reason): the message is accepted, FAILED and stays retryable; it never blocks the messages after it.
Like every receiver it first checks its caller (``lib.nsl_crosschain``'s ``only_gateway``): any caller
but the message gateway is refused with ``only the message gateway``.
"""

from typing import Any, cast

from boa3.sc import storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import UInt160
from boa3.sc.utils import abort
from lib.nsl_crosschain import only_gateway

KEY_GATEWAY = b"g"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslXmsgAbortingReceiver"
    return meta


@public(name="onMessage")
def on_message(srcChain: int, sender: bytes, nonce: int, payload: bytes) -> bytes:
    only_gateway(storage.get_uint160(KEY_GATEWAY))
    abort("aborting receiver refuses every message")
    return b""


@public
def _deploy(data: Any, update: bool):
    """data: the message gateway's script hash."""
    if not update:
        storage.put_uint160(KEY_GATEWAY, cast(UInt160, data))
