"""Shared by every NSL consumer: the configured service, and who may call back.

A neo3-boa library module, never compiled on its own. It has no ``@public`` function: importing it
adds no method to the consumer's ABI (neo3-boa compiles every function of an imported module, and a
native contract call in any of them adds its permission to the manifest: GAS transfers live apart, in
``nsl_funds``).
"""

from boa3.sc import runtime
from boa3.sc.types import UInt160


def require_service(service: UInt160) -> UInt160:
    """``service`` when it is set (20 bytes); FAULTs with ``service not set`` otherwise."""
    assert len(service) == 20, "service not set"
    return service


def only_service(service: UInt160, refusal: str):
    """FAULT with ``refusal`` unless the contract calling the current method is ``service``.

    A callback that skips this check can be called by anyone with made-up answers."""
    assert len(service) == 20, refusal
    assert runtime.calling_script_hash == service, refusal
