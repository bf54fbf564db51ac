"""Web data for neo3-boa consumers: one call asks the oracle service, one checks its callback.

The service calls back ``<callback>(requestId: int, code: int, result: bytes, userData: bytes)``
(``code`` 0 = success); start that method with ``only_oracle_service(service)``.
"""

from typing import cast

from boa3.sc.types import UInt160
from boa3.sc.utils import call_contract

from lib.nsl_service import only_service, require_service


def request_oracle(service: UInt160, url: str, filter: str, callback: str, user_data: bytes) -> int:
    """Ask ``service`` for ``filter`` (JSONPath, '' for the whole body) applied to ``url``, paid from this
    contract's prepaid balance there; returns the request id. Needs the service's ``request`` permission."""
    return cast(int, call_contract(require_service(service), "request", [url, filter, callback, user_data]))


def only_oracle_service(service: UInt160):
    """FAULT (``only the oracle service``) unless ``service`` is calling."""
    only_service(service, "only the oracle service")
