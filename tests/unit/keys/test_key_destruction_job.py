"""The keys service and the enclave's destruction rule: scheduling disables the key in the enclave,
cancelling enables it again, and the worker's job skips and reports what the enclave refuses."""

from __future__ import annotations

import pytest

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.services.keys.rules import KeyNotUsable, KeyState
from neo_service_layer.services.keys.scopes import KEYS_ADMIN, KEYS_READ, KEYS_SIGN
from neo_service_layer.services.keys.use_cases.keys import KeysService
from tests.unit.identity.fakes import FakeClock
from tests.unit.keys.fakes import FakeAudit, FakeCrypto, FakeEnclave, FakeUnitOfWork, Store

ACME = Principal(
    tenant_id="acme",
    subject="key_1",
    kind=PrincipalKind.API_KEY,
    scopes=frozenset({KEYS_ADMIN, KEYS_SIGN, KEYS_READ}),
)


class World:
    def __init__(self) -> None:
        self.store = Store(tenants=["acme"])
        self.enclave = FakeEnclave()
        self.clock = FakeClock()
        self.service = KeysService(
            uow=lambda t: FakeUnitOfWork(self.store, t),  # type: ignore[arg-type,return-value,unused-ignore]
            enclave=lambda: self.enclave,  # type: ignore[arg-type,return-value]
            audit=FakeAudit(),  # type: ignore[arg-type]
            clock=self.clock,
            crypto=FakeCrypto(),  # type: ignore[arg-type]
        )

    async def key(self, label: str) -> str:
        view = await self.service.create(
            ACME, kind=KeyKind.SECP256R1, label=label, purposes=frozenset({Purpose.MESSAGE})
        )
        return view.key.key_id


@pytest.fixture
def world() -> World:
    return World()


async def test_scheduling_disables_in_the_enclave_and_cancelling_enables_again(world: World) -> None:
    key_id = await world.key("a")
    await world.service.schedule_destruction(ACME, key_id)
    assert ("disable", key_id) in world.enclave.calls
    assert key_id in world.enclave.disabled
    cancelled = await world.service.cancel_destruction(ACME, key_id)
    assert cancelled.key.state is KeyState.ACTIVE
    assert world.enclave.calls[-1] == ("enable", key_id)
    assert key_id not in world.enclave.disabled


async def test_cancelling_leaves_a_key_its_tenant_disabled_disabled(world: World) -> None:
    key_id = await world.key("b")
    await world.service.disable(ACME, key_id)
    await world.service.schedule_destruction(ACME, key_id)
    cancelled = await world.service.cancel_destruction(ACME, key_id)
    assert cancelled.key.state is KeyState.DISABLED
    assert ("enable", key_id) not in world.enclave.calls
    assert key_id in world.enclave.disabled
    with pytest.raises(KeyNotUsable):
        await world.service.sign(ACME, key_id, [b"x"], purpose=Purpose.MESSAGE)


async def test_the_job_skips_and_reports_keys_the_enclave_refuses(world: World) -> None:
    due, early, legacy = await world.key("due"), await world.key("early"), await world.key("legacy")
    for key_id in (due, early, legacy):
        await world.service.schedule_destruction(ACME, key_id)
    world.enclave.in_grace.add(early)  # the enclave's clock says its grace has not passed yet
    world.enclave.disabled.discard(legacy)  # scheduled before the enclave kept disables
    world.clock.advance(days=7)
    run = await world.service.destroy_due()
    assert run.destroyed == (due,)
    assert {key_id for key_id, _ in run.refused} == {early, legacy}
    for key_id in (early, legacy):  # nothing of a refused key is forgotten: the next run asks again
        assert world.store.keys[key_id].state is KeyState.PENDING_DESTRUCTION
        assert (key_id, 1) in world.store.sealed
    assert world.store.keys[due].state is KeyState.DESTROYED
    assert not [k for k in world.store.sealed if k[0] == due]
    world.enclave.in_grace.clear()
    again = await world.service.destroy_due()
    assert again.destroyed == (early,)
    assert [key_id for key_id, _ in again.refused] == [legacy]
