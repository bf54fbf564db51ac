"""Helpers of the oracle and feed end-to-end tests: a loopback HTTP server the test controls, consumers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from neo3.api import noderpc
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint, uint160
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.services.oracle.adapters.payloads import OraclePayloads
from neo_service_layer.services.oracle.use_cases.fulfilment import SERVICE, OracleRequest
from tests.e2e.chain.stack import Stack, call, wait_for


@dataclass
class Route:
    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    #: the header (name, value) a request must carry, else 401
    require: tuple[str, str] | None = None


@dataclass
class WebServer:
    """Serves ``routes`` (path -> Route) on 127.0.0.1; records every request's path and headers."""

    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, body: Any, status: int = 200) -> None:
        self.routes[path] = Route(status, body)


@contextmanager
def web_server() -> Iterator[WebServer]:
    state = WebServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = state.routes.get(self.path)
            if route is None:
                self._reply(404, b"{}", "application/json")
                return
            if route.require is not None and self.headers.get(route.require[0]) != route.require[1]:
                self._reply(401, b"{}", "application/json")
                return
            body = route.body if isinstance(route.body, bytes) else json.dumps(route.body).encode()
            self._reply(route.status, body, route.content_type)

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def oracle_hash(stack: Stack) -> types.UInt160:
    return uint160(stack.network.contracts["oracle"])


async def deploy_oracle_consumer(stack: Stack, name: str, gas: int = 50) -> types.UInt160:
    """Deploy ``name`` with the oracle service as its data and prepay ``gas`` of its fees."""
    return await deploy_service_consumer(stack, name, "oracle", gas)


async def deploy_service_consumer(stack: Stack, name: str, service: str, gas: int = 50) -> types.UInt160:
    """Deploy ``name`` with the ``service`` contract as its data and prepay ``gas`` of its fees there."""
    nef, manifest = artifact(name)
    service_hash = uint160(stack.network.contracts[service])
    consumer = await deploy.deploy_contract(stack.committee, nef, manifest, service_hash)
    await stack.committee.invoke(
        call(
            CONTRACT_HASHES.GAS_TOKEN,
            "transfer",
            stack.committee.script_hash,
            service_hash,
            gas * deploy.GAS,
            consumer,
        )
    )
    return consumer


async def invoke(stack: Stack, contract: types.UInt160, method: str, *args: Any) -> tuple[int, int, int]:
    """(integer result, block, GAS consumed) of a committee invocation."""
    receipt = await stack.committee.invoke(call(contract, method, *args), append_system_fee=deploy.GAS // 20)
    item = receipt.result.stack[0]
    value = item.as_int() if item.type is noderpc.StackItemType.INTEGER else 0
    return value, receipt.included_in_block, int(receipt.result.gas_consumed)


async def oracle_row(stack: Stack, request_id: int) -> OracleRequest | None:
    return await stack.requests(OraclePayloads()).get(SERVICE, stack.network.contracts["oracle"], request_id)


async def wait_oracle(
    stack: Stack, request_id: int, *statuses: RequestStatus, timeout: float = 20
) -> OracleRequest:
    async def done() -> bool:
        row = await oracle_row(stack, request_id)
        return row is not None and row.status in statuses

    await wait_for(done, timeout, f"oracle request {request_id} to be {[s.value for s in statuses]}")
    row = await oracle_row(stack, request_id)
    assert row is not None
    return row


async def oracle_events(stack: Stack, first_block: int, name: str) -> dict[int, int]:
    """How many ``name`` events of the oracle contract each request id got since ``first_block``."""
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    counts: dict[int, int] = {}
    try:
        head = await endpoint.client.get_block_count() - 1
        for index in range(first_block, head + 1):
            events, _ = await endpoint.block_events(index, stack.network.contracts["oracle"])
            for event in events:
                if event.name == name:
                    counts[int(event.values[0])] = counts.get(int(event.values[0]), 0) + 1
    finally:
        await endpoint.close()
    return counts
