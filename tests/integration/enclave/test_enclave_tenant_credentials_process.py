"""A compromised API process against a real enclave: a tenant's keys need the tenant's own API key.

The ``api`` client below holds exactly what the API process holds (its enclave token) and names the
tenant it wants, as a compromised API would. Once the tenant has switched on enclave-checked
credentials, everything it tries on that tenant's keys without one of the tenant's API keys is refused
by the enclave (``CredentialRequired``); with the key it works.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from enclave_process_fakes import PeerEnclave

from neo_service_layer.enclave.wire.credentials import ApiKeyCredential
from neo_service_layer.enclave.wire.keys import (
    CredentialRequired,
    EnclaveOperationError,
    KeyKind,
    KeyPolicy,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-credentials-0123",
    "worker": "worker-token-credentials-0",
    "cli": "cli-token-credentials-01234",
}
TENANT = "acme"
ALL = ("apikeys:admin", "keys:admin", "keys:sign", "secrets:write", "tenants:admin")
SOURCE_LABEL = "secret-source:vault"
MSG, P256 = Purpose.MESSAGE, SignatureFormat.ECDSA_SHA256


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-tc-"))  # short: Unix socket paths are limited
    process = PeerEnclave(
        directory,
        directory / "e.sock",
        token="",
        extra={"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""},
    )
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def api(enclave: PeerEnclave) -> AsyncIterator[EnclaveClient]:
    client = EnclaveClient(enclave.socket_path, TOKENS["api"], timeout=5)
    yield client
    await client.close()


async def _issue(
    api: EnclaveClient, scopes: tuple[str, ...], presenter: ApiKeyCredential | None = None
) -> ApiKeyCredential:
    """A new API key of the tenant, issued by the enclave, as the API would later present it."""
    key_id, prefix = f"key_{secrets.token_hex(10)}", secrets.token_hex(6)
    secret = await api.with_credential(presenter).issue_api_key(
        tenant=TENANT, key_id=key_id, prefix=prefix, scopes=list(scopes), expires_at=None
    )
    return ApiKeyCredential(f"nsl_{prefix}_{secret}", TENANT, key_id, tuple(sorted(scopes)))


async def test_without_the_tenants_key_the_api_token_cannot_use_its_keys(api: EnclaveClient) -> None:
    key = (await api.create_key(KeyKind.SECP256R1, KeyPolicy.of(TENANT, [Purpose.MESSAGE]))).info.key_id
    blob = await api.seal(TENANT, SOURCE_LABEL, b'{"provider": "vault"}')
    assert await api.sign(key, b"before", tenant=TENANT, purpose=MSG, fmt=P256)  # not enforcing yet: as today
    admin = await _issue(api, ALL)
    with pytest.raises(CredentialRequired):  # switching needs the tenant's key
        await api.tenant_credentials(TENANT, True)
    assert await api.with_credential(admin).tenant_credentials(TENANT, True) is True

    # the compromised API: the api token, the tenant's name, no key of the tenant
    attempts = {
        "sign": api.sign(key, b"forged", tenant=TENANT, purpose=MSG, fmt=P256),
        "sign_batch": api.sign_batch(key, [b"a", b"b"], tenant=TENANT, purpose=MSG, fmt=P256),
        "rotate": api.rotate(key, tenant=TENANT),
        "disable": api.disable(key, tenant=TENANT),
        "destroy": api.destroy(key, tenant=TENANT),
        "unseal": api.unseal(TENANT, SOURCE_LABEL, blob),
        "create_key": api.create_key(KeyKind.SECP256R1, KeyPolicy.of(TENANT, [Purpose.MESSAGE])),
        "issue_api_key": _issue(api, ("keys:sign",)),
        "switch off": api.tenant_credentials(TENANT, False),
    }
    refused = {}
    for name, attempt in attempts.items():
        with pytest.raises(CredentialRequired) as caught:
            await attempt
        refused[name] = str(caught.value)
    assert set(refused) == set(attempts)
    assert all("none was presented" in reason for reason in refused.values())

    # a key it made up, and a real key of another tenant, are refused too
    made_up = ApiKeyCredential(f"nsl_{secrets.token_hex(6)}_{'A' * 75}", TENANT, "key_fake", ALL)
    with pytest.raises(CredentialRequired, match="not issued by this enclave"):
        await api.with_credential(made_up).sign(key, b"forged", tenant=TENANT, purpose=MSG, fmt=P256)

    # with the tenant's own key, the same operations work
    tenant = api.with_credential(admin)
    assert await tenant.sign(key, b"mine", tenant=TENANT, purpose=MSG, fmt=P256)
    assert len(await tenant.sign_batch(key, [b"a", b"b"], tenant=TENANT, purpose=MSG, fmt=P256)) == 2
    assert (await tenant.rotate(key, tenant=TENANT)).info.version == 2
    assert await tenant.unseal(TENANT, SOURCE_LABEL, blob) == b'{"provider": "vault"}'
    assert (await tenant.create_key(KeyKind.SECP256R1, KeyPolicy.of(TENANT, [Purpose.MESSAGE]))).info
    assert [k.info.version for k in await tenant.disable(key, tenant=TENANT)] == [1, 2]
    try:
        await tenant.destroy(key, tenant=TENANT)
    except CredentialRequired:
        pytest.fail("destroy with the tenant's own key was refused")
    except EnclaveOperationError:
        pass  # past the credential check: the enclave's destruction grace refuses a fresh disable


async def test_a_revoked_key_is_refused_and_revoking_needs_no_key(api: EnclaveClient) -> None:
    key = (await api.create_key(KeyKind.SECP256R1, KeyPolicy.of(TENANT, [Purpose.MESSAGE]))).info.key_id
    admin = await _issue(api, ALL)
    await api.with_credential(admin).tenant_credentials(TENANT, True)
    signer = await _issue(api, ("keys:sign",), presenter=admin)
    assert await api.with_credential(signer).sign(key, b"m", tenant=TENANT, purpose=MSG, fmt=P256)
    await api.revoke_api_key(signer.key_id)  # the API may always make things stricter
    with pytest.raises(CredentialRequired, match="revoked"):
        await api.with_credential(signer).sign(key, b"m", tenant=TENANT, purpose=MSG, fmt=P256)


async def test_the_setting_and_the_credential_key_survive_a_restart(
    enclave: PeerEnclave, api: EnclaveClient
) -> None:
    admin = await _issue(api, ALL)
    await api.with_credential(admin).tenant_credentials(TENANT, True)
    enclave.terminate()
    enclave.start()
    assert (enclave.data_dir / "enclave" / "credentials.sealed").stat().st_mode & 0o077 == 0
    restarted = EnclaveClient(enclave.socket_path, TOKENS["api"], timeout=5)
    try:
        assert await restarted.tenant_credentials(TENANT) is True
        with pytest.raises(CredentialRequired):
            await _issue(restarted, ("keys:sign",))
        assert (await _issue(restarted, ("keys:sign",), presenter=admin)).api_key
    finally:
        await restarted.close()
