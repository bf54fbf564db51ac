"""``contracts/evm/lib/NslOracleConsumerBase.sol``'s fee-paying helpers in ``OracleConsumer``, against the
real ``OracleService`` on a real anvil.

``_requestOracleAtFee`` (``askAtFee``) pays exactly the service's current ``fee()`` from the consumer's
own balance, and the request is the consumer's (``OracleRequested``, ``requestOf``); a balance below the
fee is refused with ``BalanceBelowFee(fee, balance)`` and moves nothing. ``_requestOracle`` (``ask``)
forwards the value sent with the call: anything but the fee is the service's ``WrongFee(fee)``. The
callback refuses any sender but the service (``NotTheService()``).
"""

from __future__ import annotations

from eth_abi.abi import encode
from web3.contract import Contract
from web3.types import Wei

from tests.anvil_support import Anvil, dev_account
from tests.integration.crosschain.evm_gateway import Evm, selector, stranger

OWNER, USER = dev_account(0), dev_account(2)
FEE = 10**15
URL = "https://api.example.com/ticker?pair=NEOUSD"
FILTER = "$.price"


def _error(signature: str, *values: int) -> str:
    """The revert data of custom error ``signature`` with uint256 ``values``."""
    return selector(signature) + encode(["uint256"] * len(values), list(values)).hex()


def _send_ether(evm: Evm, to: str, value: int) -> None:
    tx_hash = evm.w3.eth.send_transaction({"from": USER.address, "to": to, "value": Wei(value)})
    assert evm.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1


def _ask_at_fee(evm: Evm, service: Contract, consumer: Contract, fee: int) -> int:
    """``askAtFee``: exactly ``fee`` leaves the consumer for the service; the request is the consumer's."""
    before = (evm.w3.eth.get_balance(consumer.address), evm.w3.eth.get_balance(service.address))
    receipt = evm.transact(USER, consumer.functions.askAtFee(URL, FILTER))
    assert evm.w3.eth.get_balance(consumer.address) == before[0] - fee
    assert evm.w3.eth.get_balance(service.address) == before[1] + fee
    (requested,) = service.events.OracleRequested().process_receipt(receipt)
    request_id = int(requested["args"]["requestId"])
    assert (requested["args"]["consumer"], requested["args"]["url"], requested["args"]["filter"]) == (
        consumer.address,
        URL,
        FILTER,
    )
    consumer_of, state, _, _ = service.functions.requestOf(request_id).call()
    assert (consumer_of, state) == (consumer.address, 1)  # pending
    assert consumer.functions.lastRequestId().call() == request_id
    return request_id


def test_request_at_fee_pays_the_services_fee_from_the_consumers_balance(
    anvil: Anvil, evm_contracts_built: None
) -> None:
    evm = Evm.on(anvil)
    service = evm.deploy(OWNER, "OracleService", stranger().address)
    evm.transact(OWNER, service.functions.setFee(FEE))
    consumer = evm.deploy(OWNER, "OracleConsumer", service.address)
    assert consumer.functions.service().call() == service.address

    # nothing held yet: refused before the service is asked, and nothing moves
    refused = evm.refused(USER, consumer.functions.askAtFee(URL, FILTER))
    assert refused == _error("BalanceBelowFee(uint256,uint256)", FEE, 0)

    _send_ether(evm, consumer.address, 2 * FEE + 5)
    first = _ask_at_fee(evm, service, consumer, FEE)
    assert _ask_at_fee(evm, service, consumer, FEE) == first + 1
    assert evm.w3.eth.get_balance(consumer.address) == 5  # only the fees left it

    # the fee is read on each call: a higher one is refused with what was asked and what is held
    evm.transact(OWNER, service.functions.setFee(FEE + 1))
    refused = evm.refused(USER, consumer.functions.askAtFee(URL, FILTER))
    assert refused == _error("BalanceBelowFee(uint256,uint256)", FEE + 1, 5)
    evm.transact(OWNER, service.functions.setFee(3))
    _ask_at_fee(evm, service, consumer, 3)
    evm.transact(OWNER, service.functions.setFee(0))
    _ask_at_fee(evm, service, consumer, 0)
    assert evm.w3.eth.get_balance(consumer.address) == 2


def test_request_forwards_the_value_and_the_callback_is_the_services_alone(
    anvil: Anvil, evm_contracts_built: None
) -> None:
    evm = Evm.on(anvil)
    service = evm.deploy(OWNER, "OracleService", stranger().address)
    evm.transact(OWNER, service.functions.setFee(FEE))
    consumer = evm.deploy(OWNER, "OracleConsumer", service.address)
    for value in (0, FEE - 1, FEE + 1):
        refused = evm.refused(USER, consumer.functions.ask(URL, FILTER), value=value)
        assert refused == _error("WrongFee(uint256)", FEE)
    receipt = evm.transact(USER, consumer.functions.ask(URL, FILTER), value=FEE)
    (requested,) = service.events.OracleRequested().process_receipt(receipt)
    assert requested["args"]["consumer"] == consumer.address
    assert evm.w3.eth.get_balance(service.address) == FEE
    assert evm.w3.eth.get_balance(consumer.address) == 0

    forged = consumer.functions.onOracleAnswer(1, 0, b"1")
    assert evm.refused(USER, forged) == selector("NotTheService()")
    assert consumer.functions.answered(1).call() is False
