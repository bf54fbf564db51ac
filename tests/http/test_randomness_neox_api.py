"""``GET /api/v1/randomness/neox/requests/{id}``: a request to the EVM (Neo X) randomness contract, as the
worker stored it or, before that, as the contract holds it; on a real anvil with the real enclave."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters.evm_artifacts import deploy, load_artifact
from neo_service_layer.kernel.chain.adapters.evm_chain import EvmChain
from neo_service_layer.kernel.chain.adapters.evm_signers import LocalEvmSigner
from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.randomness.adapters.evm_requests import ABI
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.scopes import RANDOMNESS_REQUEST
from neo_service_layer.services.randomness.service import randomness_evm_jobs
from neo_service_layer.services.randomness.use_cases.evm import EVM_SERVICE, decode_evm_events
from tests.anvil_support import Anvil, anvil, dev_account
from tests.e2e.evm.conftest import evm_contracts_built
from tests.http.appclient import app_client
from tests.http.keys.conftest import Api, MovableClock, api, api_settings, clock, enclave, ensure_enclave

__all__ = ["anvil", "api", "api_settings", "clock", "enclave", "ensure_enclave", "evm_contracts_built"]

pytestmark = [pytest.mark.slow]

OWNER, USER = LocalEvmSigner(dev_account(0)), LocalEvmSigner(dev_account(2))
SEED = bytes(range(32))


async def test_without_an_evm_chain_the_route_says_so(api: Api) -> None:
    tenant = await api.tenant("acme")
    answer = await tenant.call("GET", "/api/v1/randomness/neox/requests/1", RANDOMNESS_REQUEST)
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "EVM" in answer.json()["detail"]


@pytest.fixture
async def neox(anvil: Anvil, evm_contracts_built: None) -> AsyncIterator[tuple[EvmChain, str, str]]:
    chain = EvmChain([anvil.url], anvil.chain_id, receipt_timeout=20)
    service = await deploy(chain, OWNER, load_artifact("RandomnessService"), OWNER.address)
    consumer = await deploy(chain, OWNER, load_artifact("RandomnessConsumer"), service)
    try:
        yield chain, service, consumer
    finally:
        await chain.close()


async def test_a_request_as_the_contract_holds_it_then_as_the_watcher_stored_it(
    api_settings: Callable[..., Settings],
    clock: MovableClock,
    anvil: Anvil,
    neox: tuple[EvmChain, str, str],
) -> None:
    chain, service, consumer = neox
    ask = chain.contract(consumer, load_artifact("RandomnessConsumer").abi).encode_abi("ask", args=[SEED])
    await chain.send(USER, consumer, bytes.fromhex(ask[2:]))
    settings = api_settings(
        evm_rpc_urls=[anvil.url],
        evm_chain_id=anvil.chain_id,
        evm_contracts={"randomness": service},
        evm_start_block=0,
    )
    app = create_app(settings, clock=clock)
    async with app_client(app) as client:
        api = Api(app, client, settings, None)  # type: ignore[arg-type]
        tenant = await api.tenant("acme")

        async def shown(request_id: int, *scopes: str) -> Any:
            return await tenant.call("GET", f"/api/v1/randomness/neox/requests/{request_id}", *scopes)

        before = await shown(1, RANDOMNESS_REQUEST)
        assert before.status_code == 200
        assert before.json() | {"contract": "-"} == {
            "requestId": "1",
            "chainId": anvil.chain_id,
            "contract": "-",
            "status": "pending",
            "consumer": consumer.lower(),
            "seed": SEED.hex(),
            "requestBlock": None,
            "requestTx": None,
            "fulfilledBlock": None,
            "fulfilledTx": None,
            "pendingTx": None,
            "attempts": None,
            "randomness": None,
            "proof": None,
            "failureReason": None,
            "source": "chain",
        }
        assert before.json()["contract"].lower() == service.lower()
        unknown = await shown(99, RANDOMNESS_REQUEST)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert (await shown(1, "keys:read")).status_code == 403
        # the worker's watcher stores it (no sender key and no EVM keys here: nothing would answer it)
        container = app.state.container
        assert randomness_evm_jobs(container) == []
        evm = container.evm
        contract = evm.contract("randomness")
        store = evm.requests(RandomnessPayloads())
        await evm.watcher(EVM_SERVICE, contract, ABI, store, decode_evm_events).poll()
        stored = (await shown(1, RANDOMNESS_REQUEST)).json()
        assert stored["source"] == "database"
        assert stored["status"] == "seen"
        assert stored["consumer"] == consumer.lower()
        assert stored["seed"] == SEED.hex()
        assert stored["requestBlock"] >= 1
        assert stored["requestTx"].startswith("0x")
