"""The provisioned local chain: every service contract is owned by the development owner key, never by
the transaction sender, which is only the operator; owner operations go through ``owner_calls``."""

from __future__ import annotations

from typing import Any

import pytest
from neo3.api.wrappers import SigningPair
from neo3.network.payloads import verification

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.adapters.owner_calls import owner_call, send_as_owner
from neo_service_layer.kernel.chain.adapters.role_key_store import SqlRoleKeyStore
from neo_service_layer.kernel.chain.adapters.service_keys import load_owner, load_sender
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.sealed_records import sealed_record_loader
from neo_service_layer.services.randomness.rules import RandomnessContractState
from tests.e2e.chain.stack import InProcessWorker, Stack, call

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CONTRACTS = ("randomness", "oracle", "feed")


async def _unsigned(*_: Any) -> None:
    """A dry-run needs the signer, not its signature."""


async def test_the_owner_is_its_own_key_and_the_sender_only_operates(stack: Stack) -> None:
    store = SqlRoleKeyStore(stack.engine)
    owner, sender = await load_owner(store), await load_sender(store)
    assert owner is not None
    assert sender is not None
    assert owner.script_hash != sender.script_hash
    for name in CONTRACTS:
        contract = uint160(stack.network.contracts[name])
        assert (await stack.read(contract, "owner")).as_uint160() == owner.script_hash, name
        assert (await stack.read(contract, "operator")).as_uint160() == sender.script_hash, name
        assert (await stack.read(contract, "updateDelay")).as_int() == stack.settings.neo_update_delay_blocks

    # the sender's witness (what a compromised worker could produce) administers nothing
    as_sender: list[SigningPair] = [
        (_unsigned, verification.Signer(sender.script_hash, verification.WitnessScope.CALLED_BY_ENTRY))
    ]
    for name, method, args in (
        ("randomness", "pause", []),
        ("randomness", "scheduleUpdate", [bytes(32), bytes(32)]),
        ("oracle", "withdrawFees", [sender.script_hash, 1]),
        ("oracle", "setFee", [0]),
        ("feed", "scheduleDestroy", []),
        ("feed", "setKey", [bytes([2]) + bytes(32)]),
    ):
        contract = uint160(stack.network.contracts[name])
        receipt = await stack.committee.facade.test_invoke(call(contract, method, *args), signers=as_sender)
        assert receipt.result.state == "FAULT", (name, method)
        assert "only the owner" in (receipt.result.exception or ""), (name, method)


async def test_the_development_owner_key_administers_through_the_cli_path(stack: Stack) -> None:
    owner = await load_owner(SqlRoleKeyStore(stack.engine))
    assert owner is not None
    service = stack.service
    client = EnclaveClient.from_settings(stack.settings, loader=sealed_record_loader(stack.engine))
    try:
        await send_as_owner(
            stack.committee.facade, lambda: client, owner, owner_call(service, "pause"), timeout=30
        )
        assert (await stack.read(service, "isPaused")).as_bool() is True
        await send_as_owner(
            stack.committee.facade, lambda: client, owner, owner_call(service, "unpause"), timeout=30
        )
        assert (await stack.read(service, "isPaused")).as_bool() is False
        with pytest.raises(deploy.ScriptFault, match="no destroy is scheduled"):
            await send_as_owner(
                stack.committee.facade, lambda: client, owner, owner_call(service, "destroy"), timeout=30
            )
    finally:
        await client.close()


async def test_the_worker_delivers_without_the_callback_a_request_whose_callback_exceeds_its_cap(
    stack: Stack,
) -> None:
    """100 words stored by the faulty consumer burn more than the default 0.5 GAS cap: ``deliver``
    ABORTs in the worker's dry run, so the worker sends ``[fulfill; markCallbackFailed]`` (the operator)."""
    faulty = await stack.deploy_consumer("faulty_consumer")
    async with InProcessWorker(stack.settings):
        receipt = await stack.committee.invoke(call(faulty, "requestRandom", 100, b""))
        rid = receipt.result.stack[0].as_int()
        await stack.wait_status(rid, RequestStatus.CALLBACK_FAILED, timeout=30)
    state, *_ = (await stack.read(stack.service, "getRequest", rid)).as_list()
    assert state.as_int() == RandomnessContractState.CALLBACK_FAILED
    reason = (await stack.read(stack.service, "getCallbackFailure", rid)).as_str()
    assert "callback exceeded the GAS cap" in reason
    assert (await stack.read(faulty, "calls")).as_int() == 0
