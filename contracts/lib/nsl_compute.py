"""Confidential compute for neo3-boa consumers: one call asks the compute service, one checks its callback.

The service calls back ``<callback>(requestId: int, code: int, result: bytes, userData: bytes)``
(``code`` 0 = success); start that method with ``only_compute_service(service)``.
"""

from typing import cast

from boa3.sc.types import UInt160
from boa3.sc.utils import call_contract

from lib.nsl_service import only_service, require_service


def request_compute(
    service: UInt160, function_id: str, args: bytes, callback: str, gas_for_callback: int, user_data: bytes
) -> int:
    """Ask ``service`` to run the registered function ``function_id`` on ``args``, giving the callback up
    to ``gas_for_callback`` GAS fractions (0.01 GAS .. the service's cap), paid from this contract's
    prepaid balance there; returns the request id. Needs the service's ``request`` permission."""
    arguments = [function_id, args, callback, gas_for_callback, user_data]
    return cast(int, call_contract(require_service(service), "request", arguments))


def only_compute_service(service: UInt160):
    """FAULT (``only the compute service``) unless ``service`` is calling."""
    only_service(service, "only the compute service")
