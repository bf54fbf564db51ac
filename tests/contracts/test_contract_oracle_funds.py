"""The oracle service's price on a real neo-go privnet: the escrow covers the largest result and the
unused bytes go back to the consumer at fulfilment; the callback GAS cap; refunds after the timeout."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from neo3.wallet import account

from neo_service_layer.enclave.wire.oracle import OracleContractState, ResultCode
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from tests.contracts.contract_support import (
    REFUND_BLOCKS,
    UPDATE_DELAY,
    Chain,
    artifact,
    call,
    events,
    fault_of,
    script,
    top_up,
    wait_for_height,
)
from tests.contracts.test_contract_oracle import URL, Oracle, OracleKey, request_via_faulty

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS = deploy.GAS
BYTE_PRICE = 100_000
MAX_RESULT = 1024


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def oracle(chain: Chain) -> Oracle:
    """An oracle service of this module's own (deployed by a new account: the same deployer and NEF
    would give the hash ``test_contract_oracle`` already uses)."""
    key = OracleKey()
    deployer = chain.invoker(account.Account.create_new())
    await deploy.fund(chain.committee, deployer.script_hash, 50 * GAS)
    nef, manifest = artifact("oracle_service")
    admin = [chain.owner.script_hash, chain.operator.script_hash, UPDATE_DELAY, REFUND_BLOCKS]
    service = await deploy.deploy_contract(deployer, nef, manifest, [*admin, key.public_key])
    nef, manifest = artifact("faulty_oracle_consumer")
    faulty = await deploy.deploy_contract(deployer, nef, manifest, service)
    await top_up(chain, service, faulty, 50 * GAS)
    return Oracle(service, faulty, faulty, key)


def answer(chain: Chain, o: Oracle, request_id: int, result: bytes) -> list[Any]:
    """``fulfill``'s arguments for a request of this module's service through its faulty consumer."""
    return o.key.fulfil_args(
        request_id,
        URL,
        "$.price",
        ResultCode.SUCCESS,
        result,
        consumer=o.faulty,
        service=o.service,
        magic=chain.net.magic,
    )


async def read_int(chain: Chain, o: Oracle, method: str, *args: object) -> int:
    return (await chain.read(o.service, method, *args)).as_int()


async def test_the_unused_result_bytes_go_back_to_the_consumer(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    fee = await read_int(chain, o, "fee")
    balance, collected = (
        await read_int(chain, o, "balanceOf", o.faulty),
        await read_int(chain, o, "collectedFees"),
    )
    request_id = await request_via_faulty(chain, o)
    assert await read_int(chain, o, "balanceOf", o.faulty) == balance - fee
    assert await read_int(chain, o, "escrowOf", request_id) == fee

    result = b"12.345"
    await chain.stranger.invoke(call(o.service, "fulfill", answer(chain, o, request_id, result)))
    unused = (MAX_RESULT - len(result)) * BYTE_PRICE
    assert await read_int(chain, o, "balanceOf", o.faulty) == balance - fee + unused
    assert await read_int(chain, o, "collectedFees") == collected + fee - unused
    assert await read_int(chain, o, "escrowOf", request_id) == 0


async def test_a_callback_burning_more_than_its_cap_is_never_delivered(chain: Chain, oracle: Oracle) -> None:
    """The faulty consumer stores the result: 1 KiB of storage costs its callback more than 0.5 GAS."""
    o = oracle
    await chain.stranger.invoke(call(o.faulty, "setMode", [0]))
    request_id = await request_via_faulty(chain, o)
    fulfil = answer(chain, o, request_id, b"x" * MAX_RESULT)
    both = script((o.service, "fulfill", fulfil), (o.service, "deliver", [request_id]))
    assert "callback exceeded the GAS cap" in fault_of(await chain.stranger.test(both))
    await chain.stranger.invoke(call(o.service, "fulfill", fulfil))  # what the service sends instead
    assert "callback exceeded the GAS cap" in fault_of(
        await chain.stranger.test(call(o.service, "deliver", [request_id]))
    )


async def test_an_unanswered_request_is_refunded_after_the_timeout(chain: Chain, oracle: Oracle) -> None:
    o = oracle
    fee = await read_int(chain, o, "fee")
    balance = await read_int(chain, o, "balanceOf", o.faulty)
    receipt = await chain.stranger.invoke(call(o.faulty, "requestData", [URL, "$.price", b""]))
    request_id = events(receipt, "OracleRequested")[0][0].as_int()
    assert receipt.included_in_block is not None
    early = await chain.stranger.test(call(o.service, "refund", [request_id]))
    assert "refund later" in fault_of(early)

    await wait_for_height(chain, receipt.included_in_block + REFUND_BLOCKS)
    await chain.stranger.invoke(call(o.service, "refund", [request_id]))
    assert await read_int(chain, o, "balanceOf", o.faulty) == balance
    state = (await chain.read(o.service, "getRequest", request_id)).as_list()[0].as_int()
    assert state == OracleContractState.REFUNDED
    late = answer(chain, o, request_id, b"1")
    assert "request is not pending" in fault_of(await chain.stranger.test(call(o.service, "fulfill", late)))
    assert fee > 0
