"""The keys and secrets services over in-memory fakes: state changes, enclave calls and audit records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose, SignatureFormat
from neo_service_layer.enclave.wire.secret_labels import open_payload
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.identity.rules.audit import Actions
from neo_service_layer.kernel.identity.rules.errors import MissingScope
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.keys.rules import KeyNotFound, KeyNotUsable, KeyState
from neo_service_layer.services.keys.scopes import KEYS_ADMIN, KEYS_READ, KEYS_SIGN
from neo_service_layer.services.keys.use_cases.keys import KeysService
from neo_service_layer.services.keys.use_cases.signing import batch_digest
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    SecretNotFoundInSource,
    SecretSourceConfig,
    SourcedSecret,
)
from neo_service_layer.services.secrets.rules import Consumer, ConsumerNotAllowed
from neo_service_layer.services.secrets.scopes import SECRETS_READ, SECRETS_WRITE
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService
from tests.unit.identity.fakes import FakeClock
from tests.unit.keys.fakes import FakeAudit, FakeCrypto, FakeEnclave, FakeUnitOfWork, Store

ALL = frozenset({KEYS_ADMIN, KEYS_SIGN, KEYS_READ, SECRETS_READ, SECRETS_WRITE})


def principal(tenant: str = "acme", scopes: frozenset[str] = ALL) -> Principal:
    return Principal(tenant_id=tenant, subject="key_1", kind=PrincipalKind.API_KEY, scopes=scopes)


@pytest.fixture
def world() -> tuple[Store, FakeEnclave, FakeAudit, FakeClock]:
    return Store(tenants=["acme", "evil"]), FakeEnclave(), FakeAudit(), FakeClock()


def keys_service(world: tuple[Store, FakeEnclave, FakeAudit, FakeClock]) -> KeysService:
    store, enclave, audit, clock = world
    return KeysService(
        uow=lambda t: FakeUnitOfWork(store, t),  # type: ignore[arg-type,return-value]
        enclave=lambda: enclave,  # type: ignore[arg-type,return-value]
        audit=audit,  # type: ignore[arg-type]
        clock=clock,
        crypto=FakeCrypto(),  # type: ignore[arg-type]
    )


async def test_create_sign_batch_rotate_and_audit(
    world: tuple[Store, FakeEnclave, FakeAudit, FakeClock],
) -> None:
    store, enclave, audit, _ = world
    service = keys_service(world)
    view = await service.create(
        principal(), kind=KeyKind.SECP256R1, label="main", purposes=frozenset({Purpose.MESSAGE})
    )
    key_id = view.key.key_id
    assert store.sealed[(key_id, 1)].startswith(b"sealed:")
    signed = await service.sign(principal(), key_id, [b"a", b"b"], purpose=Purpose.MESSAGE, batch=True)
    assert signed.signatures == [b"sig:a", b"sig:b"]
    assert signed.fmt is SignatureFormat.ECDSA_SHA256
    assert enclave.calls[-1] == ("sign_batch", (key_id, 1, 2))
    use = [r for r in audit.records if r.action == Actions.KEY_USE][-1]
    assert use.details["message_sha256"] == batch_digest([b"a", b"b"])
    rotated = await service.rotate(principal(), key_id)
    assert rotated.key.current_version == 2
    assert (key_id, 2) in store.sealed
    with pytest.raises(KeyNotUsable):
        await service.sign(principal(), key_id, [b"x"], purpose=Purpose.MESSAGE, version=1)
    valid, version = await service.verify_held(
        principal(), key_id, b"a", b"sig:a", fmt=SignatureFormat.ECDSA_SHA256, version=1
    )
    assert valid
    assert version.version == 1
    assert [r.action for r in audit.records] == ["key.create", Actions.KEY_USE, "key.rotate", Actions.KEY_USE]
    assert audit.records[-1].outcome.value == "denied"


async def test_tenants_scopes_and_purposes(world: tuple[Store, FakeEnclave, FakeAudit, FakeClock]) -> None:
    service = keys_service(world)
    view = await service.create(
        principal(), kind=KeyKind.SECP256R1, label="k", purposes=frozenset({Purpose.MESSAGE})
    )
    with pytest.raises(KeyNotFound):
        await service.get(principal("evil"), view.key.key_id)
    with pytest.raises(MissingScope):
        await service.sign(
            principal(scopes=frozenset({KEYS_READ})), view.key.key_id, [b"x"], purpose=Purpose.MESSAGE
        )
    with pytest.raises(KeyNotUsable):
        await service.sign(principal(), view.key.key_id, [b"x"], purpose=Purpose.ORACLE)


async def test_destroy_due_walks_tenants_and_removes_sealed_records(
    world: tuple[Store, FakeEnclave, FakeAudit, FakeClock],
) -> None:
    store, enclave, _, clock = world
    service = keys_service(world)
    keep = await service.create(
        principal(), kind=KeyKind.SECP256R1, label="keep", purposes=frozenset({Purpose.MESSAGE})
    )
    doomed = await service.create(
        principal("evil"), kind=KeyKind.SECP256R1, label="x", purposes=frozenset({Purpose.MESSAGE})
    )
    await service.schedule_destruction(principal("evil"), doomed.key.key_id)
    clock.advance(days=7)
    assert (await service.destroy_due()).destroyed == (doomed.key.key_id,)
    assert enclave.destroyed == {doomed.key.key_id}
    assert store.keys[doomed.key.key_id].state is KeyState.DESTROYED
    assert not [k for k in store.sealed if k[0] == doomed.key.key_id]
    assert (keep.key.key_id, 1) in store.sealed
    clock.advance(days=90)
    assert [k.key_id for k in await service.rotate_due()] == [keep.key.key_id]
    assert store.keys[keep.key.key_id].rotated_at == clock.now()
    assert service.max_age == timedelta(days=90)


class FakeSource:
    provider = "aws"

    def __init__(self, values: dict[str, bytes]) -> None:
        self.values = values
        self.closed = False

    async def fetch(self, name: str, version: str | None = None) -> SourcedSecret:
        if name not in self.values:
            raise SecretNotFoundInSource("no such secret", provider="aws", name=name)
        return SourcedSecret(name, Secret(self.values[name]))

    async def aclose(self) -> None:
        self.closed = True


async def test_secrets_seal_at_write_and_serve_sealed_blobs_to_allowed_consumers(
    world: tuple[Store, FakeEnclave, FakeAudit, FakeClock],
) -> None:
    store, enclave, audit, clock = world
    source = FakeSource({"db": b"from-aws"})
    configs: list[SecretSourceConfig] = []

    def build(config: SecretSourceConfig) -> FakeSource:
        configs.append(config)
        return source

    service = SecretsService(
        uow=lambda t: FakeUnitOfWork(store, t),  # type: ignore[arg-type,return-value]
        enclave=lambda: enclave,  # type: ignore[arg-type,return-value]
        audit=audit,  # type: ignore[arg-type]
        clock=clock,
        sources=build,  # type: ignore[arg-type]
    )
    secret, created = await service.put(
        principal(), "token", Secret(b"plain"), consumers=frozenset({Consumer.ORACLE})
    )
    assert created
    assert secret.current_version == 1
    assert b"plain" not in store.secret_blobs[("acme", "token", 1)]
    label, blob = await service.sealed_for_consumer("acme", "token", Consumer.ORACLE)
    assert open_payload(await enclave.unseal("acme", label, blob)) == ((), b"plain")  # no host pinned
    with pytest.raises(ConsumerNotAllowed):
        await service.sealed_for_consumer("acme", "token", Consumer.COMPUTE)
    config = AwsSourceConfig(
        region="eu-central-1", credentials=AwsStaticCredentials("AKIA", Secret("aws-secret"))
    )
    results = await service.import_secrets(principal(), ["db", "nope"], config=config, remember_as="main")
    assert [(r.name, r.imported, r.error) for r in results] == [
        ("db", True, None),
        ("nope", False, "secret-source-not-found"),
    ]
    assert source.closed
    remembered = store.sources[("acme", "main")]
    assert b"aws-secret" not in remembered.sealed_config
    again = await service.import_secrets(principal(), ["db"], remembered="main")
    assert again[0].version == 2
    assert isinstance(configs[1], AwsSourceConfig)
    assert configs[1].credentials is not None
    assert configs[1].credentials.secret_access_key == Secret("aws-secret")  # decoded from the sealed config
    assert [r.action for r in audit.records].count("secret.access") == 2
    assert all("plain" not in str(r.details) for r in audit.records)
