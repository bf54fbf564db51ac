"""Where an on-chain request stands: as this installation stored it, or else as its contract says.

A request is stored once a watcher saw it; before that (or for a request made before this installation
watched the contract) the contract's ``getRequest`` is asked, whose first value is the request's state
in the contract (0 for an unknown request, as in every gateway contract of this platform).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from neo_service_layer.enclave.wire.errors import NotFound
from neo_service_layer.kernel.chain.ports.chain import Chain, ContractCall
from neo_service_layer.kernel.chain.ports.request_store import RequestReader
from neo_service_layer.kernel.chain.rules import ChainRequest

#: the state name given for a contract state the service does not know
UNKNOWN_STATE = "unknown"


@dataclass(frozen=True, slots=True)
class RequestLookup[Q, A]:
    """``status``: a ``RequestStatus`` value when stored, else the contract state's name in lower case."""

    contract: str
    request_id: int
    status: str
    #: the stored request with its payloads; ``None`` when only the contract knows it
    stored: ChainRequest[Q, A] | None


async def look_up_request[Q, A](
    store: RequestReader[Q, A],
    chain: Chain,
    states: type[IntEnum],
    *,
    service: str,
    contract: str,
    request_id: int,
) -> RequestLookup[Q, A]:
    """The request as stored, else as the contract's ``getRequest`` says (``states`` names its states);
    ``NotFound`` when neither knows it."""
    stored = await store.get(service, contract, request_id)
    if stored is not None:
        return RequestLookup(contract, request_id, stored.status.value, stored)
    stack = await chain.read(ContractCall(contract, "getRequest", (request_id,)))
    state = int(stack[0][0]) if stack and isinstance(stack[0], tuple) else 0
    if state == 0:
        raise NotFound(f"request {request_id} is unknown to the {service} contract")
    try:
        name = states(state).name.lower()
    except ValueError:
        name = UNKNOWN_STATE
    return RequestLookup(contract, request_id, name, None)
