"""The client's key and secret operations beyond the basics, against the live server: batch signing
checked by the server and by ``cryptography`` here, verification with any public key, scheduled
destruction called off, imports from a loopback Vault and a moto AWS Secrets Manager (remembered and
re-synced), and enclave-checked credentials switched on and off."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import boto3
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nsl_client import Client, Conflict, Forbidden, NotFound, ValidationFailed
from nsl_client.ops.secret_import import aws_source, azure_source, vault_field, vault_source
from tests.client.live import PASSWORD, Live
from tests.integration.secrets_sources.vault_fake import VaultState, running_vault
from tests.moto_support import moto_endpoint
from tests.p256 import p256_verifies
from tests.scopes import TENANT_SCOPES

__all__ = ["moto_endpoint"]  # a fixture

MESSAGES = [b"first", b"", b"\x00\xff binary", b"x" * 1000]


def _p256_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return p256_verifies(public_key, signature, message)


def _ed25519_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def test_a_batch_is_signed_in_order_and_each_signature_verifies_on_the_server_and_here(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        for kind, local in (("secp256r1", _p256_valid), ("ed25519", _ed25519_valid)):
            key = client.create_key(kind, f"batch-{kind}", ["message"])
            public_key = bytes.fromhex(key.public_key)
            batch = client.sign_batch(key.key_id, MESSAGES)
            assert (batch.key_id, batch.version, batch.public_key) == (key.key_id, 1, key.public_key)
            assert len(batch.signatures) == len(MESSAGES)
            for message, signature in zip(MESSAGES, batch.signatures, strict=True):
                raw = base64.b64decode(signature)
                assert local(public_key, message, raw), (kind, message)
                assert client.verify_public_signature(kind, public_key, message, signature).valid
                assert client.verify_signature(key.key_id, message, signature).valid
            # each signature belongs to its own message: shifted by one, none verifies
            shifted = zip(MESSAGES, batch.signatures[1:] + batch.signatures[:1], strict=True)
            for message, signature in shifted:
                assert not local(public_key, message, base64.b64decode(signature))
                check = client.verify_public_signature(kind, public_key, message, signature)
                assert (check.valid, check.kind, check.public_key) == (False, kind, key.public_key)
        with pytest.raises(ValidationFailed):
            client.sign_batch(key.key_id, [b"m"] * 101)  # at most 100


def test_any_public_key_verifies_and_a_stranger_key_does_not(live: Live) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    stranger_public = stranger.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    with Client(live.base_url, api_key=live.api_key) as client:
        key = client.create_key("secp256r1", "public-verify", ["message"])
        signed = client.sign(key.key_id, b"hello")
        good = client.verify_public_signature(
            "secp256r1", bytes.fromhex(key.public_key), b"hello", signed.signature
        )
        assert (good.valid, good.format, good.version) == (True, "ecdsa-sha256", None)
        assert not client.verify_public_signature(
            "secp256r1", stranger_public, b"hello", signed.signature
        ).valid
        assert not client.verify_public_signature(
            "secp256r1", bytes.fromhex(key.public_key), b"hellO", signed.signature
        ).valid


def test_destruction_is_scheduled_refuses_signing_and_is_called_off(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        key = client.create_key("secp256r1", "doomed-key", ["message"])
        scheduled = client.schedule_key_destruction(key.key_id)
        assert scheduled.status == "pending_destruction"
        assert scheduled.destroy_after is not None
        assert 6.9 * 86400 < (scheduled.destroy_after - scheduled.created_at).total_seconds() < 7.1 * 86400
        assert not any(v.can_sign for v in scheduled.versions)
        with pytest.raises(Conflict) as refused:
            client.sign(key.key_id, b"while pending")
        assert refused.value.code == "key-not-usable"
        assert client.get_key(key.key_id).status == "pending_destruction"
        cancelled = client.cancel_key_destruction(key.key_id)
        assert (cancelled.status, cancelled.destroy_after) == ("active", None)
        signed = client.sign(key.key_id, b"signs again")
        assert client.verify_signature(key.key_id, b"signs again", signed.signature).valid
        with pytest.raises(NotFound):
            client.schedule_key_destruction("k_" + "0" * 32)


VAULT_TOKEN = "hvs.client-tests-reader"


@pytest.fixture
def vault() -> Iterator[tuple[VaultState, str]]:
    state = VaultState()
    state.put("tenants/acme/api", {"key": "ak-0123"})
    state.put("tenants/other/db", {"password": "not-yours"})
    state.tokens[VAULT_TOKEN] = ("tenants/acme/",)
    with running_vault(state) as url:
        yield state, url


def test_secrets_are_imported_from_vault_remembered_and_re_synced(
    live: Live, vault: tuple[VaultState, str]
) -> None:
    state, url = vault
    source = vault_source(url, token=VAULT_TOKEN, path_prefix="tenants/acme", namespace="team-a")
    with Client(live.base_url, api_key=live.api_key) as client:
        done = client.import_secrets(
            ["vault-db", "api", "missing"], source=source, remember_as="vault-main", consumers=["compute"]
        )
        state.put("tenants/acme/vault-db", {"password": "x"})  # (after the import: not yet there)
        results = {r.name: r for r in done.results}
        assert [r.name for r in done.results] == ["vault-db", "api", "missing"]
        assert (results["api"].imported, results["api"].version) == (True, 1)
        assert not results["vault-db"].imported
        assert results["vault-db"].error == "secret-source-not-found"
        assert not results["missing"].imported
        assert VAULT_TOKEN not in done.model_dump_json()
        reads = [r for r in state.requests if r.path.startswith("/v1/secret/data/")]
        assert {r.headers["x-vault-token"] for r in reads} == {VAULT_TOKEN}
        assert {r.headers["x-vault-namespace"] for r in reads} == {"team-a"}
        api = client.get_secret("api")
        assert (api.source, api.consumers, api.current_version) == ("vault", ["compute"], 1)

        sources = {s.name: s for s in client.list_secret_sources()}
        assert sources["vault-main"].provider == "vault"
        resync = client.import_secrets(["api", "vault-db"], remembered="vault-main")
        assert [(r.name, r.imported, r.version) for r in resync.results] == [
            ("api", True, 2),
            ("vault-db", True, 1),
        ]
        assert client.get_secret("api").current_version == 2
        # one field of a Vault secret, under a name of the tenant's choosing
        field = client.import_secrets(
            fields=[vault_field("vault-db", "password", "db-password")], remembered="vault-main"
        )
        assert [(r.name, r.imported, r.version) for r in field.results] == [("db-password", True, 1)]
        assert client.get_secret("db-password").source == "vault"
        with pytest.raises(NotFound):
            client.import_secrets(["api"], remembered="never-remembered")


def test_secrets_are_imported_from_aws_secrets_manager(live: Live, moto_endpoint: str) -> None:
    admin = boto3.client(
        "secretsmanager",
        region_name="eu-central-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="AKIACLIENTTESTS",
        aws_secret_access_key="client-tests-secret",
    )
    admin.create_secret(Name="client/aws-password", SecretString="from-aws")
    admin.create_secret(Name="client/aws-binary", SecretBinary=b"\x00\x01")
    source = aws_source(
        "eu-central-1",
        "AKIACLIENTTESTS",
        "client-tests-secret",
        endpoint_url=moto_endpoint,
        name_prefix="client/",
    )
    with Client(live.base_url, api_key=live.api_key) as client:
        done = client.import_secrets(
            ["aws-password", "aws-binary", "aws-missing"], source=source, ttl_seconds=3600
        )
        assert [(r.name, r.imported) for r in done.results] == [
            ("aws-password", True),
            ("aws-binary", True),
            ("aws-missing", False),
        ]
        assert done.results[2].error == "secret-source-not-found"
        stored = client.get_secret("aws-password")
        assert (stored.source, stored.expires_at is not None) == ("aws", True)
        assert "aws-password" in {s.name for s in client.list_secrets()}
        assert "client-tests-secret" not in done.model_dump_json()


def test_a_malformed_import_is_a_422_that_names_the_fields(live: Live) -> None:
    """Azure Key Vault needs Microsoft's sign-in service (not reachable here): what is checked is that the
    server validates the body the client sends, naming what is wrong."""
    with Client(live.base_url, api_key=live.api_key) as client:
        bad = azure_source("http://not-https.example", "tenant", "client", "secret")
        with pytest.raises(ValidationFailed) as invalid:
            client.import_secrets(["a"], source=bad)
        fields = {e["field"] for e in invalid.value.extra["errors"]}
        assert any("vault_url" in f for f in fields), fields
        assert "secret" not in invalid.value.detail
        with pytest.raises(ValidationFailed):  # a source and a remembered one: exactly one of them
            client.import_secrets(["a"], source=bad, remembered="vault-main")


def test_enclave_checked_credentials_are_switched_on_and_off(live: Live, operator: Client) -> None:
    """While on, the enclave refuses a session's use of the tenant's keys and takes its API key's."""
    tenant = operator.create_tenant("enclave-checked")
    operator.add_member(tenant.id, "checked-dev", "developer", password=PASSWORD)
    created = operator.create_api_key(tenant.id, "admin", sorted(TENANT_SCOPES))
    with Client(live.base_url, api_key=created.key) as owner, Client(live.base_url) as session:
        session.sign_in("checked-dev", PASSWORD, tenant=tenant.id)
        key = owner.create_key("secp256r1", "checked", ["message"])
        assert not owner.get_enclave_credentials(tenant.id).enabled
        with pytest.raises(Forbidden):  # a session may not switch it
            session.set_enclave_credentials(tenant.id, True)
        assert owner.set_enclave_credentials(tenant.id, True).enabled
        assert owner.get_enclave_credentials(tenant.id).enabled
        assert owner.sign(key.key_id, b"by the API key").signature
        with pytest.raises(Forbidden):
            session.sign(key.key_id, b"by a session")
        assert not owner.set_enclave_credentials(tenant.id, False).enabled
        assert not owner.get_enclave_credentials(tenant.id).enabled
        assert session.sign(key.key_id, b"by a session again").signature
