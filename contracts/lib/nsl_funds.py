"""Paying a service from the consumer contract's own GAS, in the transaction that makes the request.

Importing this module adds the permission to call GAS ``transfer`` to the consumer's manifest; it also
needs the permission to call the service's ``balanceOf`` and ``fee``/``feeFor`` (the message gateway's
``feeOf`` and ``nonce`` for ``send_message``). A consumer that holds no GAS (its fees prepaid by an
account) and a cross-chain receiver do not import it.
"""

from typing import cast

from boa3.sc import runtime
from boa3.sc.contracts import GasToken
from boa3.sc.types import CallFlags, UInt160
from boa3.sc.utils import call_contract

from lib.nsl_service import require_service


def prepay(service: UInt160, amount: int):
    """Send ``amount`` GAS fractions of this contract's GAS to ``service``, credited to this contract
    (the service's ``onNEP17Payment`` with data = this contract)."""
    me = runtime.executing_script_hash
    assert GasToken.transfer(me, require_service(service), amount, me), "GAS transfer to the service failed"


def top_up(service: UInt160, price: int):
    """Prepay the shortfall so this contract's balance at ``service`` covers ``price``."""
    me = runtime.executing_script_hash
    balance = cast(int, call_contract(require_service(service), "balanceOf", [me], CallFlags.READ_ONLY))
    if balance < price:
        prepay(service, price - balance)


def top_up_fee(service: UInt160):
    """``top_up`` to the service's ``fee()`` (randomness, oracle): the next request is paid for."""
    top_up(service, cast(int, call_contract(require_service(service), "fee", [], CallFlags.READ_ONLY)))


def top_up_compute_fee(service: UInt160, gas_for_callback: int):
    """``top_up`` to the compute service's ``feeFor(gas_for_callback)``."""
    price = call_contract(require_service(service), "feeFor", [gas_for_callback], CallFlags.READ_ONLY)
    top_up(service, cast(int, price))


def fund_upkeep(automation: UInt160, upkeep_id: int, amount: int):
    """Send ``amount`` GAS fractions of this contract's GAS to upkeep ``upkeep_id``'s balance."""
    me = runtime.executing_script_hash
    sent = GasToken.transfer(me, require_service(automation), amount, upkeep_id)
    assert sent, "GAS transfer to the automation contract failed"


def send_message(gateway: UInt160, dest_chain: int, receiver: bytes, payload: bytes, gas_limit: int) -> int:
    """Send a cross-chain message through the message ``gateway``: its ``feeOf(dest_chain, gas_limit)``
    paid from this contract's GAS, the transfer's data the message ``[dest_chain, receiver, payload,
    gas_limit]`` (the gateway FAULTs the transfer on an unknown or paused route, a bad receiver, a payload
    or gas limit over its limits); returns the message's nonce (read its result with
    ``nsl_crosschain.message_result``)."""
    me = runtime.executing_script_hash
    fee = call_contract(require_service(gateway), "feeOf", [dest_chain, gas_limit], CallFlags.READ_ONLY)
    message = [dest_chain, receiver, payload, gas_limit]
    assert GasToken.transfer(me, gateway, cast(int, fee), message), (
        "GAS transfer to the message gateway failed"
    )
    return cast(int, call_contract(gateway, "nonce", [], CallFlags.READ_ONLY))
