"""Per-client tokens against a real enclave process: what the api, worker and cli tokens can and cannot do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from enclave_process_fakes import PeerEnclave, running_enclave

from neo_service_layer.enclave.clients import ALLOWED, API, WORKER
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    ResultCode,
    response_message,
)
from neo_service_layer.enclave.wire.randomness import (
    OFFCHAIN_CONTRACT,
    OFFCHAIN_MAGIC,
    RandomnessFacts,
    offchain_consumer,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient, EnclaveRequestRejected
from neo_service_layer.kernel.enclave_client.transport import EnclaveTransport

TOKENS = {
    "api": "api-token-integration-0123",
    "worker": "worker-token-integration-0",
    "cli": "cli-token-integration-0123",
}
TENANT = "acme"
MAGIC = 860833102
TX_HASH = bytes(range(32))


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    extra = {"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""}
    with running_enclave("nsl-cl-", token="", extra=extra) as process:
        yield process


def _client(enclave: PeerEnclave, token: str) -> EnclaveClient:
    return EnclaveClient(enclave.socket_path, token, timeout=5)


@pytest.fixture
async def api(enclave: PeerEnclave) -> AsyncIterator[EnclaveClient]:
    client = _client(enclave, TOKENS["api"])
    yield client
    await client.close()


@pytest.fixture
async def platform_key(enclave: PeerEnclave) -> SealedKey:
    """A platform key as `nsl chain up` creates it (with the cli token)."""
    cli = _client(enclave, TOKENS["cli"])
    try:
        policy = KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NEO_TX, Purpose.ORACLE])
        return await cli.create_key(KeyKind.SECP256R1, policy)
    finally:
        await cli.close()


def _verify_p256(public: bytes, raw: bytes, data: bytes) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, data, ec.ECDSA(hashes.SHA256()))


async def test_api_creates_and_signs_with_a_tenant_key(api: EnclaveClient) -> None:
    sealed = await api.create_key(KeyKind.SECP256R1, KeyPolicy.of(TENANT, [Purpose.MESSAGE]))
    signature = await api.sign(
        sealed.info.key_id, b"hello", tenant=TENANT, purpose=Purpose.MESSAGE, fmt=SignatureFormat.ECDSA_SHA256
    )
    _verify_p256(sealed.info.public_key, signature, b"hello")
    batch = await api.sign_batch(
        sealed.info.key_id,
        [b"a", b"b"],
        tenant=TENANT,
        purpose=Purpose.MESSAGE,
        fmt=SignatureFormat.ECDSA_SHA256,
    )
    assert len(batch) == 2
    rotated = await api.rotate(sealed.info.key_id, tenant=TENANT)
    assert rotated.info.version == 2
    assert (await api.status()).platform == "simulation"
    assert len(await api.random(16)) == 16


async def test_api_cannot_sign_with_a_platform_key(api: EnclaveClient, platform_key: SealedKey) -> None:
    key_id = platform_key.info.key_id
    with pytest.raises(OperationNotAllowed, match="platform keys") as caught:
        await api.sign(
            key_id,
            TX_HASH,
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.NEO_TX,
            fmt=SignatureFormat.NEO_TX,
            network_magic=MAGIC,
        )
    assert isinstance(caught.value, PolicyDenied)  # the HTTP edge answers 403
    with pytest.raises(OperationNotAllowed):
        await api.sign_batch(
            key_id,
            [TX_HASH],
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.NEO_TX,
            fmt=SignatureFormat.NEO_TX,
            network_magic=MAGIC,
        )
    with pytest.raises(OperationNotAllowed):
        await api.sign(
            key_id, b"m", tenant=PLATFORM_KEY_OWNER, purpose=Purpose.ORACLE, fmt=SignatureFormat.ECDSA_SHA256
        )
    for lifecycle in (api.rotate, api.disable, api.destroy):
        with pytest.raises(OperationNotAllowed):
            await lifecycle(key_id, tenant=PLATFORM_KEY_OWNER)


async def test_api_cannot_create_a_platform_key(api: EnclaveClient) -> None:
    with pytest.raises(OperationNotAllowed, match="platform keys"):
        await api.create_key(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.NEO_TX]))


async def test_api_seals_but_cannot_unseal_a_secret_value(api: EnclaveClient) -> None:
    blob = await api.seal(TENANT, "secret:db:v1", b"s3cret")
    with pytest.raises(OperationNotAllowed, match="unseal"):
        await api.unseal(TENANT, "secret:db:v1", blob)
    with pytest.raises(OperationNotAllowed):
        await api.seal(PLATFORM_KEY_OWNER, "anything", b"x")
    # the one unseal it keeps: a tenant's remembered import-source configuration
    source = await api.seal(TENANT, "secret-source:vault", b"{}")
    assert await api.unseal(TENANT, "secret-source:vault", source) == b"{}"


async def test_api_cannot_call_worker_or_cli_operations(enclave: PeerEnclave, api: EnclaveClient) -> None:
    transport = EnclaveTransport(str(enclave.socket_path), TOKENS["api"], pool_size=1, timeout=5)
    try:
        on_chain = {
            "magic": MAGIC,
            "contract": b64encode(b"\x01" * 20),
            "request_id": 1,
            "consumer": b64encode(b"\x02" * 20),
            "seed": b64encode(b"\x03" * 32),
        }
        fulfil = {
            "tenant": PLATFORM_KEY_OWNER,
            "bls_key_id": "k_b",
            "ecdsa_key_id": "k_e",
            "items": [on_chain],
        }
        with pytest.raises(OperationNotAllowed, match="off-chain randomness only"):
            await transport.call("randomness_fulfil", fulfil, idempotent=True)
    finally:
        await transport.close()
    with pytest.raises(OperationNotAllowed, match="migration_offer"):
        await api.migration_offer()


async def test_a_wrong_token_is_refused(enclave: PeerEnclave) -> None:
    for token in ("wrong-token-0123456789", TOKENS["api"] + "x"):
        client = _client(enclave, token)
        try:
            with pytest.raises(EnclaveRequestRejected) as caught:
                await client.status()
            assert caught.value.code == "unauthorized"
        finally:
            await client.close()


async def test_worker_signs_with_platform_keys_but_not_tenant_keys(
    enclave: PeerEnclave, api: EnclaveClient, platform_key: SealedKey
) -> None:
    """The worker has no raw signing at all (every signature it needs is built or read by the enclave),
    neither with a platform key nor with a tenant's; it unseals nothing and exports no key."""
    worker = _client(enclave, TOKENS["worker"])
    try:
        with pytest.raises(OperationNotAllowed, match="may not call"):
            await worker.sign(
                platform_key.info.key_id,
                b"m",
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )
        tenant_key = await api.create_key(KeyKind.SECP256R1, KeyPolicy.of(TENANT, [Purpose.MESSAGE]))
        with pytest.raises(OperationNotAllowed):
            await worker.sign(
                tenant_key.info.key_id,
                b"m",
                tenant=TENANT,
                purpose=Purpose.MESSAGE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )
        with pytest.raises(OperationNotAllowed):
            await worker.unseal(TENANT, "secret:db:v1", await api.seal(TENANT, "secret:db:v1", b"v"))
        with pytest.raises(OperationNotAllowed):
            await worker.migration_offer()
    finally:
        await worker.close()


async def test_api_answers_off_chain_randomness_but_never_an_on_chain_request(
    enclave: PeerEnclave, api: EnclaveClient
) -> None:
    cli = _client(enclave, TOKENS["cli"])
    worker = _client(enclave, TOKENS["worker"])
    try:
        policy = KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS])
        bls_key = await cli.create_key(KeyKind.BLS12_381, policy)
        ecdsa_key = await cli.create_key(KeyKind.SECP256R1, policy)
        keys = {"bls_key_id": bls_key.info.key_id, "ecdsa_key_id": ecdsa_key.info.key_id}
        offchain = RandomnessFacts(
            magic=OFFCHAIN_MAGIC,
            contract=OFFCHAIN_CONTRACT,
            request_id=5,
            consumer=offchain_consumer(TENANT),
            seed=b"\x07" * 32,
        )
        (answer,) = await api.randomness_fulfil(**keys, items=[offchain], tenant=PLATFORM_KEY_OWNER)
        assert len(answer.proof) == 96
        on_chain = RandomnessFacts(
            magic=MAGIC, contract=b"\x01" * 20, request_id=5, consumer=b"\x02" * 20, seed=b"\x07" * 32
        )
        with pytest.raises(OperationNotAllowed, match="off-chain randomness only"):
            await api.randomness_fulfil(**keys, items=[on_chain], tenant=PLATFORM_KEY_OWNER)
        with pytest.raises(OperationNotAllowed):  # nor raw-signs with the randomness keys
            await api.sign_batch(
                bls_key.info.key_id,
                [b"x"],
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.RANDOMNESS,
                fmt=SignatureFormat.BLS,
            )
        (fulfilled,) = await worker.randomness_fulfil(**keys, items=[on_chain], tenant=PLATFORM_KEY_OWNER)
        assert len(fulfilled.signature) == 64
    finally:
        await cli.close()
        await worker.close()


async def test_api_answers_off_chain_oracle_requests_but_never_an_on_chain_request(
    enclave: PeerEnclave, api: EnclaveClient
) -> None:
    """With the api token: an off-chain oracle answer only (magic 0, zero contract), never an answer to,
    nor a refusal of, an on-chain request. With any token: no raw signature over an oracle answer."""
    cli = _client(enclave, TOKENS["cli"])
    worker = _client(enclave, TOKENS["worker"])
    try:
        oracle_key = await cli.create_key(
            KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.ORACLE])
        )
        key = {"key_id": oracle_key.info.key_id, "key_tenant": PLATFORM_KEY_OWNER}
        spec = FetchSpec(url="https://10.0.0.1/price", filter="$.p")  # refused by the guard: no network
        offchain = OracleFacts.offchain(5, TENANT, spec.url, spec.filter)
        answer = await api.oracle_fetch(offchain, spec, tenant=TENANT, **key)
        assert (answer.code, answer.facts) == (ResultCode.FORBIDDEN, offchain)
        _verify_p256(oracle_key.info.public_key, answer.signature, answer.message())

        on_chain = OracleFacts(MAGIC, b"\x01" * 20, 5, b"\x02" * 20, spec.url, spec.filter)
        with pytest.raises(OperationNotAllowed, match="off-chain oracle requests only"):
            await api.oracle_fetch(on_chain, spec, tenant=TENANT, **key)
        with pytest.raises(OperationNotAllowed, match="off-chain oracle requests only"):
            await api.oracle_refuse(on_chain, ResultCode.NOT_FOUND, **key)
        with pytest.raises(OperationNotAllowed):  # nor raw-signs with the platform oracle key
            await api.sign(
                oracle_key.info.key_id,
                b"x",
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )

        # the worker answers (and refuses) on-chain requests, signed in the enclave for their facts
        fulfilled = await worker.oracle_fetch(on_chain, spec, tenant=PLATFORM_KEY_OWNER, **key)
        refused = await worker.oracle_refuse(on_chain, ResultCode.NOT_FOUND, **key)
        for signed in (fulfilled, refused):
            assert signed.facts == on_chain
            _verify_p256(oracle_key.info.public_key, signed.signature, signed.message())
        assert (refused.code, refused.result) == (ResultCode.NOT_FOUND, b"")

        # raw sign never signs an oracle answer, V2 or V1, whatever the token; other messages it signs
        forged = response_message(on_chain, ResultCode.SUCCESS, 1, b"1")
        for message in (forged, b"NSL-ORACLE-V1" + forged[13:]):
            with pytest.raises(PolicyDenied, match="oracle_fetch"):
                await cli.sign(
                    oracle_key.info.key_id,
                    message,
                    tenant=PLATFORM_KEY_OWNER,
                    purpose=Purpose.ORACLE,
                    fmt=SignatureFormat.ECDSA_SHA256,
                )
            with pytest.raises(PolicyDenied, match="oracle_fetch"):
                await cli.sign_batch(
                    oracle_key.info.key_id,
                    [b"feed round", message],
                    tenant=PLATFORM_KEY_OWNER,
                    purpose=Purpose.ORACLE,
                    fmt=SignatureFormat.ECDSA_SHA256,
                )
        other = b"another message" + bytes(40)  # not an oracle answer nor a feed round: the cli signs it
        with pytest.raises(OperationNotAllowed, match="may not call"):  # the worker signs nothing raw
            await worker.sign(
                oracle_key.info.key_id,
                other,
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )
        signature = await cli.sign(
            oracle_key.info.key_id,
            other,
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.ORACLE,
            fmt=SignatureFormat.ECDSA_SHA256,
        )
        _verify_p256(oracle_key.info.public_key, signature, other)
    finally:
        await cli.close()
        await worker.close()


# ---------------------------------------------------------------------------------------------------------
# a compromised host process: with exactly the api or the worker token, what can it make the enclave do?


@pytest.mark.parametrize("client", [API, WORKER])
async def test_a_host_token_reaches_no_operation_outside_its_fixed_list(
    enclave: PeerEnclave, client: str
) -> None:
    """Every operation the enclave serves (each is on some client's list) and that is not on this
    client's list is refused before its arguments are read: for the api and the worker that includes
    key migration (export of sealed keys) and, for the worker, seal and unseal."""
    served = {op for table in ALLOWED.values() for op in table}
    refused = sorted(served - set(ALLOWED[client]))
    assert {"migration_offer", "migration_export", "migration_import"} <= set(refused)
    if client == WORKER:
        assert {"seal", "unseal", "rotate", "disable", "attest"} <= set(refused)
    transport = EnclaveTransport(str(enclave.socket_path), TOKENS[client], pool_size=1, timeout=5)
    try:
        for op in refused:
            with pytest.raises(OperationNotAllowed, match=op):
                await transport.call(op, {}, idempotent=True)
    finally:
        await transport.close()


async def test_the_api_cannot_unseal_a_secret_value_under_an_import_source_label(api: EnclaveClient) -> None:
    """The api's one unseal (a remembered import source) cannot be turned on a secret value by naming
    another label or tenant: the label and the tenant are bound into the sealed data."""
    value = await api.seal(TENANT, "secret:db:v1", b"s3cret")
    with pytest.raises(SealedDataInvalid):
        await api.unseal(TENANT, "secret-source:db", value)
    source = await api.seal(TENANT, "secret-source:vault", b'{"token": "t"}')
    with pytest.raises(SealedDataInvalid):
        await api.unseal("other-tenant", "secret-source:vault", source)
    with pytest.raises(OperationNotAllowed):
        await api.unseal(PLATFORM_KEY_OWNER, "secret-source:vault", source)


async def test_the_worker_cannot_sign_an_oracle_answer_it_wrote(
    enclave: PeerEnclave, platform_key: SealedKey
) -> None:
    """The worker gets no raw signature over an oracle answer it wrote (it has no raw signing at all;
    the key itself also refuses oracle-shaped messages from the cli: the test above)."""
    worker = _client(enclave, TOKENS["worker"])
    try:
        facts = OracleFacts(MAGIC, b"\x01" * 20, 7, b"\x02" * 20, "https://example.org/p", "$.price")
        forged = response_message(facts, ResultCode.SUCCESS, 1_700_000_000_000, b'"1000000"')
        for fmt in (SignatureFormat.ECDSA_SHA256,):
            with pytest.raises(OperationNotAllowed, match="may not call"):
                await worker.sign(
                    platform_key.info.key_id,
                    forged,
                    tenant=PLATFORM_KEY_OWNER,
                    purpose=Purpose.ORACLE,
                    fmt=fmt,
                )
        with pytest.raises(OperationNotAllowed, match="may not call"):
            await worker.sign_batch(
                platform_key.info.key_id,
                [b"harmless", forged],
                tenant=PLATFORM_KEY_OWNER,
                purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )
    finally:
        await worker.close()
