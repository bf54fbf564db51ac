"""Test consumer that pays its service fees from its own GAS, in the transaction that makes the request.

Deploy with data = one service's script hash (randomness, oracle or compute: their fees and balances
are the same; or the automation contract, for ``fundUpkeep``), send GAS to this contract, then call
``requestRandomness``, ``requestOracle`` or ``requestCompute``: each tops its balance at the service up
to the request's price from this contract's GAS (``lib/nsl_funds.py``'s ``top_up_fee`` /
``top_up_compute_fee``) and asks in the same call. ``prepay``, ``topUp``, ``topUpFee``,
``topUpComputeFee`` and ``fundUpkeep`` expose the helpers alone. Anyone may call them (a test contract:
its GAS only ever goes to the service it was deployed with). The callbacks accept only the service and
count what they get.
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.contracts import GasToken
from boa3.sc.types import UInt160
from boa3.sc.utils import abort
from lib.nsl_compute import only_compute_service, request_compute
from lib.nsl_funds import fund_upkeep, prepay, top_up, top_up_compute_fee, top_up_fee
from lib.nsl_oracle import only_oracle_service, request_oracle
from lib.nsl_randomness import only_randomness_service, request_randomness

KEY_SERVICE = b"s"
KEY_ANSWERS = b"a"


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslSelfPayingConsumer"
    meta.add_permission(methods=["request", "balanceOf", "fee", "feeFor"])
    return meta


@public
def _deploy(data: Any, update: bool):
    if not update and data is not None:
        storage.put_uint160(KEY_SERVICE, cast(UInt160, data))


@public
def onNEP17Payment(from_address: UInt160 | None, amount: int, data: Any):
    """GAS only: what this contract pays its fees with."""
    if runtime.calling_script_hash != GasToken.hash:
        abort("only GAS is accepted")


def _service() -> UInt160:
    return storage.get_uint160(KEY_SERVICE)


@public(name="prepay")
def prepay_amount(amount: int):
    prepay(_service(), amount)


@public(name="topUp")
def top_up_to(price: int):
    top_up(_service(), price)


@public(name="topUpFee")
def top_up_to_fee():
    top_up_fee(_service())


@public(name="topUpComputeFee")
def top_up_to_compute_fee(gasForCallback: int):
    top_up_compute_fee(_service(), gasForCallback)


@public(name="fundUpkeep")
def fund_an_upkeep(upkeepId: int, amount: int):
    """Service = the automation contract: ``amount`` of this contract's GAS to upkeep ``upkeepId``."""
    fund_upkeep(_service(), upkeepId, amount)


@public(name="requestRandomness")
def ask_randomness(numWords: int) -> int:
    """Top up to the randomness service's ``fee()`` and ask; returns the request id."""
    service = _service()
    top_up_fee(service)
    return request_randomness(service, numWords, "onRandomness", b"self-paid")


@public(name="requestOracle")
def ask_oracle(url: str, filter: str) -> int:
    """Top up to the oracle service's ``fee()`` and ask; returns the request id."""
    service = _service()
    top_up_fee(service)
    return request_oracle(service, url, filter, "onOracleResponse", b"self-paid")


@public(name="requestCompute")
def ask_compute(functionId: str, args: bytes, gasForCallback: int) -> int:
    """Top up to the compute service's ``feeFor(gasForCallback)`` and ask; returns the request id."""
    service = _service()
    top_up_compute_fee(service, gasForCallback)
    return request_compute(service, functionId, args, "onComputeResult", gasForCallback, b"self-paid")


@public(name="onRandomness")
def on_randomness(requestId: int, words: list, userData: bytes):
    only_randomness_service(_service())
    storage.put_int(KEY_ANSWERS, storage.get_int(KEY_ANSWERS) + 1)


@public(name="onOracleResponse")
def on_oracle_response(requestId: int, code: int, result: bytes, userData: bytes):
    only_oracle_service(_service())
    storage.put_int(KEY_ANSWERS, storage.get_int(KEY_ANSWERS) + 1)


@public(name="onComputeResult")
def on_compute_result(requestId: int, code: int, result: bytes, userData: bytes):
    only_compute_service(_service())
    storage.put_int(KEY_ANSWERS, storage.get_int(KEY_ANSWERS) + 1)


@public(safe=True)
def answers() -> int:
    """Callbacks received."""
    return storage.get_int(KEY_ANSWERS)
