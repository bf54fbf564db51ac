"""Example receiver of cross-chain messages on Neo N3 that answers back.

``onMessage(srcChain, sender, nonce, payload)`` (only from the message gateway: ``lib.nsl_crosschain``'s
``only_gateway`` ABORTs for any other caller, which no caller can catch) keeps the last message
and returns ``b"echo:" + payload``: the gateway sends that back to the sender as the receipt's result.
Its admin can close it: a closed receiver THROWs ("echo receiver closed"), which the gateway catches (the
message stays FAILED and retryable) until the admin opens it again and someone executes the message.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import UInt160
from boa3.sc.utils import abort
from lib.nsl_crosschain import only_gateway

KEY_GATEWAY = b"g"
KEY_ADMIN = b"a"
KEY_CLOSED = b"c"
KEY_RECEIVED = b"n"
KEY_LAST = b"l"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslXmsgEchoReceiver"
    return meta


@public
def _deploy(data: Any, update: bool):
    """data: [gateway, admin]."""
    if not update:
        args = cast(list, data)
        storage.put_uint160(KEY_GATEWAY, cast(UInt160, args[0]))
        storage.put_uint160(KEY_ADMIN, cast(UInt160, args[1]))


@public(name="onMessage")
def on_message(srcChain: int, sender: bytes, nonce: int, payload: bytes) -> bytes:
    only_gateway(storage.get_uint160(KEY_GATEWAY))
    if storage.get_bool(KEY_CLOSED):
        raise Exception("echo receiver closed")
    storage.put_int(KEY_RECEIVED, storage.get_int(KEY_RECEIVED) + 1)
    storage.put_list(KEY_LAST, [srcChain, sender, nonce, payload])
    return b"echo:" + payload


@public(name="setClosed")
def set_closed(closed: bool):
    if not runtime.check_witness(storage.get_uint160(KEY_ADMIN)):
        abort("only the admin")
    storage.put_bool(KEY_CLOSED, closed)


@public(safe=True)
def received() -> int:
    return storage.get_int(KEY_RECEIVED)


@public(name="lastMessage", safe=True)
def last_message() -> list:
    """[srcChain, sender, nonce, payload] of the last message ([] before any)."""
    if storage.get_int(KEY_RECEIVED) == 0:
        return []
    return cast(list, storage.get_list(KEY_LAST))
