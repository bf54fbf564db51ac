"""The caller's API key reaches the enclave port on every tenant-key operation (enclave-checked credentials).

The use cases pass ``principal.credential`` through ``Enclave.with_credential``; the fake records what
each call was sent. A session (user principal) has no credential and sends none.
"""

from __future__ import annotations

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.keys.scopes import KEYS_ADMIN, KEYS_READ, KEYS_SIGN
from neo_service_layer.services.keys.use_cases.keys import KeysService
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    SecretSourceConfig,
    SourcedSecret,
)
from neo_service_layer.services.secrets.scopes import SECRETS_READ, SECRETS_WRITE
from neo_service_layer.services.secrets.use_cases.secrets import SecretsService
from tests.unit.identity.fakes import FakeClock
from tests.unit.keys.fakes import FakeAudit, FakeCrypto, FakeEnclave, FakeUnitOfWork, Store

SCOPES = frozenset({KEYS_ADMIN, KEYS_SIGN, KEYS_READ, SECRETS_READ, SECRETS_WRITE})
CREDENTIAL = ApiKeyCredential("nsl_abc_" + "x" * 65, "acme", "key_1", tuple(sorted(SCOPES)))


def _principal(kind: PrincipalKind) -> Principal:
    credential = CREDENTIAL if kind is PrincipalKind.API_KEY else None
    return Principal(tenant_id="acme", subject="key_1", kind=kind, scopes=SCOPES, credential=credential)


def _keys(store: Store, enclave: FakeEnclave) -> KeysService:
    return KeysService(
        uow=lambda t: FakeUnitOfWork(store, t),
        enclave=lambda: enclave,  # type: ignore[arg-type,return-value]
        audit=FakeAudit(),  # type: ignore[arg-type]
        clock=FakeClock(),
        crypto=FakeCrypto(),  # type: ignore[arg-type]
    )


async def test_every_tenant_key_operation_sends_the_callers_api_key() -> None:
    store, enclave = Store(tenants=["acme"]), FakeEnclave()
    service, caller = _keys(store, enclave), _principal(PrincipalKind.API_KEY)
    view = await service.create(
        caller, kind=KeyKind.SECP256R1, label="k", purposes=frozenset({Purpose.MESSAGE})
    )
    key_id = view.key.key_id
    await service.sign(caller, key_id, [b"m"], purpose=Purpose.MESSAGE)
    await service.sign(caller, key_id, [b"a", b"b"], purpose=Purpose.MESSAGE, batch=True)
    await service.rotate(caller, key_id)
    await service.disable(caller, key_id)
    assert enclave.presented == [CREDENTIAL] * 5


async def test_a_session_sends_no_credential() -> None:
    store, enclave = Store(tenants=["acme"]), FakeEnclave()
    service, caller = _keys(store, enclave), _principal(PrincipalKind.USER)
    view = await service.create(
        caller, kind=KeyKind.SECP256R1, label="k", purposes=frozenset({Purpose.MESSAGE})
    )
    await service.sign(caller, view.key.key_id, [b"m"], purpose=Purpose.MESSAGE)
    assert enclave.presented == [None, None]


class _Source:
    provider = "aws"

    async def fetch(self, name: str, version: str | None = None) -> SourcedSecret:
        return SourcedSecret(name, Secret(b"value"))

    async def aclose(self) -> None:
        return None


async def test_unsealing_a_remembered_source_sends_the_callers_api_key() -> None:
    store, enclave = Store(tenants=["acme"]), FakeEnclave()
    clock = FakeClock()

    def build(config: SecretSourceConfig) -> _Source:
        return _Source()

    service = SecretsService(
        uow=lambda t: FakeUnitOfWork(store, t),
        enclave=lambda: enclave,  # type: ignore[arg-type,return-value]
        audit=FakeAudit(),  # type: ignore[arg-type]
        clock=clock,
        sources=build,  # type: ignore[arg-type]
    )
    config = AwsSourceConfig(region="eu-central-1", credentials=AwsStaticCredentials("AKIA", Secret("s")))
    caller = _principal(PrincipalKind.API_KEY)
    await service.import_secrets(caller, ["db"], config=config, remember_as="main")
    enclave.presented.clear()
    await service.import_secrets(caller, ["db"], remembered="main")
    assert enclave.presented == [CREDENTIAL]  # the unseal of the remembered configuration
