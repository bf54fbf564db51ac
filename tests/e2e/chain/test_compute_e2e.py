"""Confidential compute end to end: a Python and a JavaScript function, uploaded through the API as
source, built to WebAssembly and compiled in the enclave process, each fetching JSON from a loopback
HTTPS server with an API key from a sealed secret; answered off chain with a receipt and on neo-go's
privnet through the compute contract, which verifies the enclave's signature before calling back."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.http.security import authenticate
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.services.compute.adapters.payloads import ComputePayloads
from neo_service_layer.services.compute.scopes import COMPUTE_READ, COMPUTE_WRITE
from neo_service_layer.services.compute.use_cases.fulfilment import SERVICE, ComputeRequest
from neo_service_layer.services.secrets.scopes import SECRETS_READ, SECRETS_WRITE
from tests.e2e.chain.oracle_support import deploy_service_consumer, invoke
from tests.e2e.chain.stack import InProcessWorker, Stack, close_stack, open_stack, wait_for
from tests.e2e.chain.tls_support import HttpsServer, LoopbackCertificates, https_server
from tests.http.appclient import app_client
from tests.http.events_support import events_of
from tests.integration.compute.conftest import EXAMPLES, require_tools
from tests.unit.enclave.wat_functions import ECHO_FOUR

pytestmark = [pytest.mark.chain, pytest.mark.slow]

#: the GAS (fractions) each request gives its callback: keeping a result costs 0.001 GAS a byte
CALLBACK_GAS = 200_000_000
API_KEY = "k-live-7f3a9c"
PRICES: dict[str, list[dict[str, Any]]] = {
    "items": [
        {"name": "neo", "price_cents": 1234, "qty": 3},
        {"name": "gas", "price_cents": 456, "qty": 10},
        {"name": "flm", "price_cents": 7, "qty": 1000},
        {"name": "nnt", "price_cents": 99, "qty": 25},
    ]
}
CALLER = Principal(
    tenant_id="acme",
    subject="key-1",
    kind=PrincipalKind.API_KEY,
    scopes=frozenset({COMPUTE_READ, COMPUTE_WRITE, SECRETS_WRITE, SECRETS_READ}),
)


@pytest.fixture
def web(certificates: LoopbackCertificates) -> Iterator[HttpsServer]:
    with https_server(certificates) as server:
        server.routes["/prices"] = PRICES
        yield server


@pytest.fixture
async def cstack(contracts_built: None, certificates: LoopbackCertificates) -> AsyncIterator[Stack]:
    for language in EXAMPLES:
        require_tools(language)
    opened = await open_stack(oracle_allow_hosts="127.0.0.1", oracle_ca_file=str(certificates.ca_file))
    try:
        yield opened
    finally:
        await close_stack(opened)
        shutil.rmtree(opened.directory, ignore_errors=True)


@asynccontextmanager
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(stack.settings, migrate=False)

    async def caller() -> Principal:
        return CALLER

    app.dependency_overrides[authenticate] = caller
    async with app_client(app) as client:
        client.timeout = httpx.Timeout(300)  # a build and its compilation take tens of seconds
        yield client


def expected_total() -> int:
    return sum(i["price_cents"] * i["qty"] for i in PRICES["items"])


async def test_python_and_javascript_functions_answered_off_and_on_chain(
    cstack: Stack, web: HttpsServer
) -> None:
    stack = cstack
    # the worker runs from the start, as under `make run`: it keeps up with the blocks made meanwhile
    async with InProcessWorker(stack.settings), api(stack) as client:
        put = await client.put(
            "/api/v1/secrets/api_key",
            json={"value": API_KEY, "consumers": ["compute"], "allowed_hosts": ["127.0.0.1"]},
        )
        assert put.status_code == 201, put.text
        functions: dict[str, dict[str, object]] = {}
        for language, path in EXAMPLES.items():
            created = await client.post(
                "/api/v1/compute/functions",
                json={
                    "name": f"price report {language}",
                    "language": language,
                    "source": Path(path).read_text(),
                    "secrets": ["api_key"],
                    "onChain": True,
                },
            )
            assert created.status_code == 201, created.text
            functions[language] = created.json()

        # off chain: the result and a receipt the API and anyone with the compute key can check
        for language, fn in functions.items():
            ran = await client.post(
                f"/api/v1/compute/functions/{fn['functionId']}/runs",
                json={"input": {"url": web.url("/prices"), "currency": "EUR"}},
            )
            assert ran.status_code == 200, (ran.text, (stack.directory / "enclave.log").read_text()[-3000:])
            run = ran.json()
            assert run["outcome"] == "success", (language, run)
            report = json.loads(run["resultText"])
            assert (report["currency"], report["count"], report["total_cents"]) == (
                "EUR",
                4,
                expected_total(),
            )
            assert len(base64.b64decode(run["resultBase64"])) > 256
            assert web.headers["/prices"]["x-api-key"] == API_KEY
            assert API_KEY not in ran.text
            verdict = await client.post(
                "/api/v1/compute/receipts/verify",
                json={"receipt": run["receipt"], "resultBase64": run["resultBase64"]},
            )
            assert verdict.json() == {"valid": True, "problems": []}

        # on chain: the consumer asks through the compute contract; the worker answers
        service = stack.network.contracts["compute"]
        consumer = await deploy_service_consumer(stack, "compute_consumer", "compute")
        for language, fn in functions.items():
            args = json.dumps({"url": web.url("/prices"), "currency": language}).encode()
            rid, block, _ = await invoke(
                stack, consumer, "requestCompute", fn["functionId"], args, b"tag", CALLBACK_GAS
            )
            row = await wait_compute(stack, service, rid)
            assert row.fulfilled_block is not None
            assert row.fulfilled_block - block >= 1  # blocks per answer: measured by bench, not asserted here
            delivered = await stack.read(consumer, "getResult", rid)
            report = json.loads(delivered.as_bytes())
            assert (report["currency"], report["total_cents"]) == (language, expected_total())
            assert len(delivered.as_bytes()) > 256
            response = (await stack.read(uint160(service), "getResponse", rid)).as_list()
            assert response[0].as_int() == 0
            # the contract stored the hash of the code that ran: the function's digest
            assert response[-1].as_bytes().hex() == fn["digest"]


async def wait_compute(stack: Stack, contract: str, request_id: int, timeout: float = 60) -> ComputeRequest:
    store = stack.requests(ComputePayloads())

    async def done() -> bool:
        row = await store.get(SERVICE, contract, request_id)
        return row is not None and row.status in (RequestStatus.DELIVERED, RequestStatus.FAILED)

    try:
        await wait_for(done, timeout, f"compute request {request_id} to be delivered")
    except AssertionError:
        row = await store.get(SERVICE, contract, request_id)
        raise AssertionError((row, (stack.directory / "enclave.log").read_text()[-4000:])) from None
    row = await store.get(SERVICE, contract, request_id)
    assert row is not None
    assert row.status is RequestStatus.DELIVERED, row
    return row


async def test_a_wasm_module_answered_on_chain_and_an_unknown_function_refused(cstack: Stack) -> None:
    stack = cstack
    async with api(stack) as client:
        created = await client.post(
            "/api/v1/compute/functions",
            json={
                "name": "echo",
                "language": "wasm",
                "moduleBase64": base64.b64encode(ECHO_FOUR).decode(),
                "onChain": True,
            },
        )
        assert created.status_code == 201, created.text
        fn = created.json()
        private = await client.post(
            "/api/v1/compute/functions",
            json={
                "name": "private",
                "language": "wasm",
                "moduleBase64": base64.b64encode(ECHO_FOUR).decode(),
            },
        )
    service = stack.network.contracts["compute"]
    consumer = await deploy_service_consumer(stack, "compute_consumer", "compute")
    async with InProcessWorker(stack.settings):
        rid, _, _ = await invoke(
            stack, consumer, "requestCompute", fn["functionId"], b'{"x":1}', b"tag", CALLBACK_GAS
        )
        await wait_compute(stack, service, rid)
        assert (await stack.read(consumer, "getResult", rid)).as_bytes() == b'{"x":1}' * 4
        refused = []
        for unknown in ("fn_" + "0" * 24, private.json()["functionId"]):
            asked, _, _ = await invoke(stack, consumer, "requestCompute", unknown, b"{}", b"", CALLBACK_GAS)
            await wait_compute(stack, service, asked)
            last = (await stack.read(consumer, "lastResponse")).as_list()
            assert [last[0].as_int(), last[1].as_int()] == [asked, 9]  # NOT_FOUND, signed and delivered
            refused.append(asked)
        async with api(stack) as client:
            state = (await client.get(f"/api/v1/compute/requests/{rid}")).json()
            assert (state["status"], state["outcome"], state["functionHash"]) == (
                "delivered",
                "success",
                fn["digest"],
            )
            assert bytes.fromhex(state["result"]) == b'{"x":1}' * 4
            details = [(await client.get(f"/api/v1/compute/requests/{r}")).json()["detail"] for r in refused]
            assert details == ["no such function", "the function may not be called on chain"]
        # the function's owner heard of the run it answered, once; the refusals ran nothing of acme's
        heard = [d for _, t, d in await events_of(stack.engine, "acme") if t.startswith("compute.run.")]
        assert [(d["where"], d["requestId"], d["outcome"]) for d in heard] == [("onchain", rid, "success")]
        assert heard[0]["functionId"] == fn["functionId"]
        assert heard[0]["resultSha256"] == hashlib.sha256(b'{"x":1}' * 4).hexdigest()
