"""A group the enclave refuses to sign (its bounds on one transaction) is sent one request at a time."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from neo_service_layer.enclave.wire.keys import PolicyDenied
from neo_service_layer.kernel.chain.ports.chain import ContractCall, DryRun, SignedTransaction
from neo_service_layer.kernel.chain.rules import RequestStatus
from tests.unit.chain.fakes import FakeChain
from tests.unit.chain.test_chain_faults import World


class BoundedChain(FakeChain):
    """The sender signs at most one request's calls per transaction, as the enclave with a low fee bound."""

    async def build_transaction(self, calls: Sequence[ContractCall], dry_run: DryRun) -> SignedTransaction:
        if len({c.args[0] for c in calls}) > 1:
            raise PolicyDenied("system fee above the bound of 5000000000 GAS fractions")
        return await super().build_transaction(calls, dry_run)


async def test_a_group_above_the_enclaves_bounds_is_sent_request_by_request() -> None:
    w = World()
    w.chain = BoundedChain(head=1)
    w.fulfiller._chain = w.chain
    w.relay._chain = w.chain
    await w.attempt()
    assert w.groups() == [[("fulfill", i), ("deliver", i)] for i in range(4)]
    assert w.store.statuses() == dict.fromkeys(range(4), RequestStatus.FULFILLING)


async def test_a_single_request_the_enclave_refuses_is_not_retried_in_a_loop() -> None:
    class Refusing(FakeChain):
        async def build_transaction(
            self, calls: Sequence[ContractCall], dry_run: DryRun
        ) -> SignedTransaction:
            raise PolicyDenied("contract 0x01 is not registered for this network")

    w = World(requests=1)
    w.chain = Refusing(head=1)
    w.fulfiller._chain = w.chain
    with pytest.raises(PolicyDenied, match="not registered"):
        await w.fulfiller.run_once()
    assert w.chain.built == []
