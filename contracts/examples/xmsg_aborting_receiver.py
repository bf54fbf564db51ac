"""Example receiver of cross-chain messages on Neo N3 that ABORTs on every message.

An ABORT cannot be caught: executing a message to this contract FAULTs the whole transaction. The
relayer then records the attempt with the gateway's ``markFailed`` (the VM's fault message as the
reason): the message is accepted, FAILED and stays retryable; it never blocks the messages after it.
"""

from typing import Any

from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.utils import abort


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslXmsgAbortingReceiver"
    return meta


@public(name="onMessage")
def on_message(srcChain: int, sender: bytes, nonce: int, payload: bytes) -> bytes:
    abort("aborting receiver refuses every message")
    return b""


@public
def _deploy(data: Any, update: bool):
    pass
