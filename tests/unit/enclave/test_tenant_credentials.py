"""Enclave-checked tenant credentials (``enclave.tenant_credentials``): the rule, through the handlers.

Every call goes through ``EnclaveOperations.authorize`` then ``dispatch``, as the server does, with the
client name the token would give. The ``api`` client plays a compromised API process: it holds the
api token and may name any tenant.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.tenant_credentials import TenantCredentials
from neo_service_layer.enclave.wire import credentials as wire_credentials
from neo_service_layer.enclave.wire.encoding import b64encode, pack_blobs
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, CredentialRequired, OperationNotAllowed
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.randomness import OFFCHAIN_CONTRACT, OFFCHAIN_MAGIC
from neo_service_layer.kernel.identity.rules.access import Scopes
from neo_service_layer.services.keys import scopes as key_scopes
from neo_service_layer.services.oracle import scopes as oracle_scopes
from neo_service_layer.services.secrets import scopes as secret_scopes

A, B = "tenant-a", "tenant-b"
ALL = ["apikeys:admin", "keys:admin", "keys:read", "keys:sign", "secrets:write", "tenants:admin"]
NOW = 1_900_000_000.0


class Enclave:
    """An enclave's operations with a hand-moved clock for key expiry."""

    def __init__(self, directory: Path, sealer: Sealer | None = None, keys: KeyStore | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.now = NOW
        self.sealer = sealer or Sealer(b"s" * 32)
        self.credentials = TenantCredentials(
            self.sealer, directory / "credentials.sealed", clock=lambda: self.now
        )
        self.keys = keys or KeyStore(self.sealer, Revocations(self.sealer, directory / "revocations.sealed"))
        self.ops = EnclaveOperations(
            SimulationPlatform(directory), self.sealer, self.keys, credentials=self.credentials
        )

    def call(self, client: str | None, op: str, **args: Any) -> dict[str, Any]:
        request = Args(args)
        self.ops.authorize(client, op, request)
        result = self.ops.dispatch(op, request)
        assert not isinstance(result, Awaitable)
        return result

    def issue(
        self,
        tenant: str,
        scopes: list[str],
        *,
        expires_at: int | None = None,
        credential: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new API key of ``tenant`` as the API would present it later (key and claims)."""
        key_id, prefix = f"key_{secrets.token_hex(10)}", secrets.token_hex(6)
        args: dict[str, Any] = {
            "tenant": tenant,
            "key_id": key_id,
            "prefix": prefix,
            "scopes": scopes,
            "expires_at": expires_at,
        }
        if credential is not None:
            args["credential"] = credential
        secret = self.call("api", "issue_api_key", **args)["secret"]
        return {
            "api_key": f"nsl_{prefix}_{secret}",
            "tenant": tenant,
            "key_id": key_id,
            "scopes": sorted(scopes),
            "expires_at": expires_at,
        }

    def enforce(self, tenant: str, admin: dict[str, Any], enabled: bool = True) -> bool:
        result = self.call("api", "tenant_credentials", tenant=tenant, enabled=enabled, credential=admin)
        return bool(result["enabled"])

    def create_key(self, tenant: str, credential: dict[str, Any] | None = None) -> str:
        args: dict[str, Any] = {"kind": "secp256r1", "policy": {"tenant": tenant, "purposes": ["message"]}}
        if credential is not None:
            args["credential"] = credential
        return str(self.call("api", "create_key", **args)["info"]["key_id"])

    def sign(self, tenant: str, key_id: str, credential: dict[str, Any] | None = None) -> dict[str, Any]:
        args = _sign_args(tenant, key_id)
        if credential is not None:
            args["credential"] = credential
        return self.call("api", "sign", **args)


def _sign_args(tenant: str, key_id: str) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "tenant": tenant,
        "purpose": "message",
        "format": "ecdsa-sha256",
        "message": b64encode(b"hello"),
    }


@pytest.fixture
def enclave(tmp_path: Path) -> Enclave:
    return Enclave(tmp_path)


@pytest.fixture
def enforcing(enclave: Enclave) -> tuple[str, dict[str, Any]]:
    """Tenant A with a key, then switched to enforcing with an all-scope admin key of A."""
    key_id = enclave.create_key(A)
    admin = enclave.issue(A, ALL)
    assert enclave.enforce(A, admin) is True
    return key_id, admin


def test_a_valid_key_of_the_tenant_signs(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    key_id, admin = enforcing
    assert enclave.sign(A, key_id, admin)["signature"]


def _op_args(op: str, key_id: str) -> dict[str, Any]:
    sign = _sign_args(A, key_id)
    del sign["message"]
    return {
        "sign": {**sign, "message": b64encode(b"m")},
        "sign_batch": {**sign, "messages": [b64encode(b"m")]},
        "sign_batch_packed": {**sign, "messages": b64encode(pack_blobs([b"m"]))},
        "create_key": {"kind": "secp256r1", "policy": {"tenant": A, "purposes": ["message"]}},
        "rotate": {"key_id": key_id, "tenant": A},
        "disable": {"key_id": key_id, "tenant": A},
        "destroy": {"key_id": key_id, "tenant": A},
        "unseal": {"tenant": A, "label": "secret-source:vault", "blob": b64encode(b"x" * 40)},
    }[op]


GUARDED = ["sign", "sign_batch", "sign_batch_packed", "create_key", "rotate", "disable", "destroy", "unseal"]


@pytest.mark.parametrize("op", GUARDED)
def test_without_a_key_every_tenant_key_operation_is_refused(
    enclave: Enclave, enforcing: tuple[str, dict[str, Any]], op: str
) -> None:
    key_id, _ = enforcing
    with pytest.raises(CredentialRequired, match="none was presented"):
        enclave.call("api", op, **_op_args(op, key_id))


def test_a_key_of_another_tenant_is_refused(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    key_id, _ = enforcing
    other = enclave.issue(B, ALL)
    with pytest.raises(CredentialRequired, match="another tenant"):
        enclave.sign(A, key_id, other)
    # the same key with its claims rewritten to name tenant A: the tag does not match
    with pytest.raises(CredentialRequired, match="not issued by this enclave"):
        enclave.sign(A, key_id, {**other, "tenant": A})


def test_an_expired_key_is_refused(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    key_id, admin = enforcing
    short = enclave.issue(A, ["keys:sign"], expires_at=int(NOW) + 60, credential=admin)
    assert enclave.sign(A, key_id, short)["signature"]
    enclave.now = NOW + 60
    with pytest.raises(CredentialRequired, match="expired"):
        enclave.sign(A, key_id, short)
    with pytest.raises(CredentialRequired, match="not issued by this enclave"):  # a longer life: forged
        enclave.sign(A, key_id, {**short, "expires_at": int(NOW) + 3600})


def test_a_revoked_key_is_refused(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    key_id, admin = enforcing
    signer = enclave.issue(A, ["keys:sign"], credential=admin)
    assert enclave.call("api", "revoke_api_key", key_id=signer["key_id"]) == {}
    with pytest.raises(CredentialRequired, match="revoked"):
        enclave.sign(A, key_id, signer)


def test_an_under_scoped_key_is_refused(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    key_id, admin = enforcing
    reader = enclave.issue(A, ["keys:read"], credential=admin)
    signer = enclave.issue(A, ["keys:sign"], credential=admin)
    with pytest.raises(CredentialRequired, match="lacks the scope keys:sign"):
        enclave.sign(A, key_id, reader)
    with pytest.raises(CredentialRequired, match="lacks the scope keys:admin"):
        enclave.call("api", "rotate", key_id=key_id, tenant=A, credential=signer)
    with pytest.raises(CredentialRequired, match="not issued by this enclave"):  # widened scopes: forged
        enclave.sign(A, key_id, {**reader, "scopes": ["keys:read", "keys:sign"]})


def test_a_forged_or_legacy_key_is_refused(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    key_id, admin = enforcing
    prefix = admin["api_key"].split("_")[1]
    forged = {**admin, "api_key": f"nsl_{prefix}_" + "A" * 75}
    with pytest.raises(CredentialRequired, match="not issued by this enclave"):
        enclave.sign(A, key_id, forged)
    legacy = {**admin, "api_key": f"nsl_{prefix}_{secrets.token_urlsafe(32)}"}  # a key from before
    with pytest.raises(CredentialRequired, match="not an API key issued by the enclave"):
        enclave.sign(A, key_id, legacy)
    with pytest.raises(CredentialRequired, match="must be an object"):
        enclave.sign(A, key_id, "nsl_x")  # type: ignore[arg-type]


def test_another_enclave_does_not_accept_the_key(tmp_path: Path) -> None:
    first, second = Enclave(tmp_path / "1"), Enclave(tmp_path / "2")
    admin = first.issue(A, ALL)
    with pytest.raises(CredentialRequired, match="not issued by this enclave"):
        second.enforce(A, admin)


def test_a_tenant_that_does_not_enforce_works_as_before(enclave: Enclave) -> None:
    key_id = enclave.create_key(B)
    assert enclave.sign(B, key_id)["signature"]
    assert enclave.call("api", "rotate", key_id=key_id, tenant=B)["info"]["version"] == 2
    assert enclave.call("api", "tenant_credentials", tenant=B) == {"tenant": B, "enabled": False}


def test_enforcement_is_per_tenant(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    key_id = enclave.create_key(B)
    assert enclave.sign(B, key_id)["signature"]


def test_the_api_cannot_mint_itself_a_key_of_an_enforcing_tenant(
    enclave: Enclave, enforcing: tuple[str, dict[str, Any]]
) -> None:
    _, admin = enforcing
    with pytest.raises(CredentialRequired, match="none was presented"):
        enclave.issue(A, ["keys:sign"])
    signer = enclave.issue(A, ["keys:sign"], credential=admin)
    with pytest.raises(CredentialRequired, match="lacks the scope apikeys:admin"):
        enclave.issue(A, ["keys:sign"], credential=signer)
    key_admin = enclave.issue(A, ["apikeys:admin", "keys:sign"], credential=admin)
    with pytest.raises(CredentialRequired, match="lacks keys:admin"):  # no wider than the presenter
        enclave.issue(A, ["keys:admin"], credential=key_admin)


def test_switching_needs_a_tenant_admin_key_of_the_tenant(
    enclave: Enclave, enforcing: tuple[str, dict[str, Any]]
) -> None:
    key_id, admin = enforcing
    signer = enclave.issue(A, ["keys:sign"], credential=admin)
    with pytest.raises(CredentialRequired, match="none was presented"):
        enclave.call("api", "tenant_credentials", tenant=A, enabled=False)
    with pytest.raises(CredentialRequired, match="lacks the scope tenants:admin"):
        enclave.enforce(A, signer, enabled=False)
    with pytest.raises(CredentialRequired, match="another tenant"):
        enclave.enforce(A, enclave.issue(B, ALL), enabled=False)
    assert enclave.enforce(A, admin, enabled=False) is False
    assert enclave.sign(A, key_id)["signature"]  # as before


def test_only_the_api_client_is_checked(enclave: Enclave, enforcing: tuple[str, dict[str, Any]]) -> None:
    """The cli's ``nsl keys rotate-due`` and the worker's destruction job act for the platform."""
    key_id, _ = enforcing
    assert enclave.call("cli", "rotate", key_id=key_id, tenant=A)["info"]["version"] == 2


def test_a_fresh_start_refuses_keys_issued_before_except_the_presenters(
    tmp_path: Path, enclave: Enclave
) -> None:
    key_id = enclave.create_key(A)
    admin = enclave.issue(A, ALL)
    minted = enclave.issue(A, ["keys:sign"])  # say, by a compromised API before the switch
    enclave.now = NOW + 1
    on = {"tenant": A, "enabled": True, "fresh_start": True, "credential": admin}
    assert enclave.call("api", "tenant_credentials", **on)["enabled"] is True
    with pytest.raises(CredentialRequired, match="fresh start"):
        enclave.sign(A, key_id, minted)
    assert enclave.sign(A, key_id, admin)["signature"]
    enclave.now = NOW + 2
    reissued = enclave.issue(A, ["keys:sign"], credential=admin)
    assert enclave.sign(A, key_id, reissued)["signature"]
    restarted = Enclave(tmp_path, enclave.sealer, enclave.keys)
    restarted.now = NOW + 3
    with pytest.raises(CredentialRequired, match="fresh start"):
        restarted.sign(A, key_id, minted)
    assert restarted.sign(A, key_id, reissued)["signature"]
    # switching off and on again without a fresh start forgets it
    restarted.enforce(A, admin, enabled=False)
    restarted.enforce(A, admin)
    assert restarted.sign(A, key_id, minted)["signature"]


def _offchain_fetch(**extra: Any) -> Args:
    return Args(
        {
            "magic": OFFCHAIN_MAGIC,
            "contract": b64encode(OFFCHAIN_CONTRACT),
            "tenant": A,
            "key_id": "k_platform",
            "key_tenant": PLATFORM_KEY_OWNER,
            "secrets": [],
            **extra,
        }
    )


def test_the_api_oracle_fetch_needs_the_key_for_an_enforcing_tenants_secrets_or_keys(
    enclave: Enclave,
) -> None:
    """The API's off-chain oracle answers sign with the platform oracle key; with the tenant's secrets
    (or a key of the tenant) they are the tenant's, and need its key."""
    admin = enclave.issue(A, [*ALL, "oracle:request"])
    enclave.enforce(A, admin)
    signer = enclave.issue(A, ["keys:sign"], credential=admin)
    requester = enclave.issue(A, ["oracle:request"], credential=admin)
    secret = [{"name": "token", "version": 1, "blob": b64encode(b"x" * 40)}]
    enclave.ops.authorize("api", "oracle_fetch", _offchain_fetch())  # no secret: nothing of the tenant
    with pytest.raises(CredentialRequired, match="none was presented"):
        enclave.ops.authorize("api", "oracle_fetch", _offchain_fetch(secrets=secret))
    with pytest.raises(CredentialRequired, match="lacks the scope oracle:request"):
        enclave.ops.authorize("api", "oracle_fetch", _offchain_fetch(secrets=secret, credential=signer))
    enclave.ops.authorize("api", "oracle_fetch", _offchain_fetch(secrets=secret, credential=requester))
    with pytest.raises(CredentialRequired, match="none was presented"):
        enclave.ops.authorize("api", "oracle_fetch", _offchain_fetch(key_id="k_1", key_tenant=A))


def test_an_api_compute_run_with_an_enforcing_tenants_secrets_needs_its_key(enclave: Enclave) -> None:
    """A function's code sees the secrets' values and its result goes back to the host: the API process
    runs one with an enforcing tenant's secrets only with that tenant's key holding compute:write."""
    admin = enclave.issue(A, [*ALL, "compute:write"])
    enclave.enforce(A, admin)
    signer = enclave.issue(A, ["keys:sign"], credential=admin)
    runner = enclave.issue(A, ["compute:write"], credential=admin)
    secret = [{"name": "token", "version": 1, "blob": b64encode(b"x" * 40)}]

    def run(**extra: Any) -> Args:
        return Args({"tenant": A, "function_id": "fn", "digest": "00" * 32, "input": "{}", **extra})

    enclave.ops.authorize("api", "compute_run", run())  # no secret: nothing of the tenant is used
    with pytest.raises(CredentialRequired, match="none was presented"):
        enclave.ops.authorize("api", "compute_run", run(secrets=secret))
    with pytest.raises(CredentialRequired, match="lacks the scope compute:write"):
        enclave.ops.authorize("api", "compute_run", run(secrets=secret, credential=signer))
    enclave.ops.authorize("api", "compute_run", run(secrets=secret, credential=runner))


@pytest.mark.parametrize("client", [None, "legacy"])
def test_a_single_token_enclave_refuses_to_switch_on(enclave: Enclave, client: str | None) -> None:
    admin = enclave.issue(A, ALL)
    with pytest.raises(OperationNotAllowed, match="per-client tokens"):
        enclave.call(client, "tenant_credentials", tenant=A, enabled=True, credential=admin)
    assert enclave.call("api", "tenant_credentials", tenant=A)["enabled"] is False


def test_the_state_survives_a_restart_and_is_sealed(
    tmp_path: Path, enforcing: tuple[str, dict[str, Any]], enclave: Enclave
) -> None:
    key_id, admin = enforcing
    signer = enclave.issue(A, ["keys:sign"], credential=admin)
    enclave.call("api", "revoke_api_key", key_id=signer["key_id"])
    raw = (tmp_path / "credentials.sealed").read_bytes()
    assert A.encode() not in raw
    assert signer["key_id"].encode() not in raw
    restarted = Enclave(tmp_path, enclave.sealer, enclave.keys)  # the keys: as re-provisioned from the DB
    assert restarted.call("api", "tenant_credentials", tenant=A)["enabled"] is True
    assert restarted.call("api", "sign", **_sign_args(A, key_id), credential=admin)["signature"]
    with pytest.raises(CredentialRequired, match="revoked"):
        restarted.call("api", "sign", **_sign_args(A, key_id), credential=signer)


def test_the_enclave_scope_names_are_the_services() -> None:
    assert wire_credentials.KEYS_SIGN == key_scopes.KEYS_SIGN
    assert wire_credentials.KEYS_ADMIN == key_scopes.KEYS_ADMIN
    assert wire_credentials.SECRETS_WRITE == secret_scopes.SECRETS_WRITE
    assert wire_credentials.APIKEYS_ADMIN == Scopes.APIKEYS_ADMIN
    assert wire_credentials.TENANTS_ADMIN == Scopes.TENANTS_ADMIN
    assert wire_credentials.ORACLE_REQUEST == oracle_scopes.ORACLE_REQUEST


def test_the_credential_never_shows_in_a_repr() -> None:
    credential = wire_credentials.ApiKeyCredential("nsl_abc_" + "s" * 65, A, "key_1", ("keys:sign",))
    assert "sss" not in repr(credential)
