"""Example consumer of the oracle service: keeps the latest price string from a web API.

Deploy with data = the oracle service's script hash, prepay its fees by sending GAS to the service with
data = this contract's hash, then call ``requestPrice(url, filter)``, e.g.
``requestPrice("https://api.example.com/ticker?pair=NEOUSD", "$.price")``. The service later calls
``onOracleResponse``; only a successful response (code 0) changes the stored price.
Built on the consumer library (``contracts/lib/nsl_oracle.py``).
"""

from typing import Any, cast

from boa3.sc import runtime, storage
from boa3.sc.compiletime import NeoMetadata, public
from boa3.sc.types import Transaction, UInt160
from boa3.sc.utils import CreateNewEvent, to_bytes

from lib.nsl_oracle import only_oracle_service, request_oracle

KEY_OWNER = b"o"
KEY_SERVICE = b"s"
KEY_PRICE = b"l"
KEY_LAST_CODE = b"c"
KEY_PENDING = b"p"
PREFIX_PRICE = b"r"

PriceUpdated = CreateNewEvent([("requestId", int), ("price", str)], "PriceUpdated")
PriceFailed = CreateNewEvent([("requestId", int), ("code", int)], "PriceFailed")


def manifest_metadata() -> NeoMetadata:
    meta = NeoMetadata()
    meta.name = "NslPriceConsumer"
    meta.description = "Example consumer of the Neo Service Layer oracle service"
    meta.add_permission(methods=["request"])
    return meta


@public
def _deploy(data: Any, update: bool):
    """data: the oracle service script hash (or None: set it later with setService)."""
    if update:
        return
    tx = cast(Transaction, runtime.script_container)
    storage.put_uint160(KEY_OWNER, tx.sender)
    if data is not None:
        storage.put_uint160(KEY_SERVICE, cast(UInt160, data))


@public(name="setService")
def set_service(service: UInt160):
    """Owner only: the oracle service allowed to call back."""
    assert runtime.check_witness(storage.get_uint160(KEY_OWNER)), "only the owner may do this"
    storage.put_uint160(KEY_SERVICE, service)


@public(name="requestPrice")
def request_price(url: str, filter: str) -> int:
    """Ask the oracle for ``filter`` applied to ``url``; returns the request id."""
    request_id = request_oracle(storage.get_uint160(KEY_SERVICE), url, filter, "onOracleResponse", b"price")
    storage.put_int(KEY_PENDING, request_id)
    return request_id


@public(name="onOracleResponse")
def on_oracle_response(requestId: int, code: int, result: bytes, userData: bytes):
    """Callback: only the service may call it. Stores the result as the price when code == 0."""
    only_oracle_service(storage.get_uint160(KEY_SERVICE))
    storage.put_int(KEY_LAST_CODE, code)
    if code != 0:
        PriceFailed(requestId, code)
        return
    price = cast(str, result)
    storage.put(PREFIX_PRICE + to_bytes(requestId, 8), result)
    storage.put(KEY_PRICE, result)
    PriceUpdated(requestId, price)


@public(name="latestPrice", safe=True)
def latest_price() -> str:
    """The last price string received ('' before any)."""
    return storage.get_str(KEY_PRICE)


@public(name="getPrice", safe=True)
def get_price(requestId: int) -> str:
    """The price received for ``requestId`` ('' while pending or failed)."""
    return storage.get_str(PREFIX_PRICE + to_bytes(requestId, 8))


@public(name="lastCode", safe=True)
def last_code() -> int:
    """Result code of the last callback."""
    return storage.get_int(KEY_LAST_CODE)


@public(name="pendingRequest", safe=True)
def pending_request() -> int:
    """Id of the last request made by ``requestPrice``."""
    return storage.get_int(KEY_PENDING)
