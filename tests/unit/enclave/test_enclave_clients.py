"""Per-client enclave tokens and the fixed operation lists (``enclave.clients``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from neo_service_layer.enclave.clients import (
    ALLOWED,
    API,
    CLI,
    LEGACY,
    WORKER,
    allowed_ops,
    check_allowed,
    parse_clients,
)
from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.main import EnclaveStartupError, build_server, client_tokens
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.settings import EnclaveSettings, Environment
from neo_service_layer.enclave.wire.encoding import b64encode
from neo_service_layer.enclave.wire.keys import (
    ERRORS_BY_CODE,
    PLATFORM_KEY_OWNER,
    OperationNotAllowed,
    PolicyDenied,
)
from neo_service_layer.enclave.wire.protocol import (
    PROTOCOL_VERSION,
    Args,
    Unauthorized,
    authenticate,
    decode_request,
)
from neo_service_layer.enclave.wire.randomness import OFFCHAIN_CONTRACT, OFFCHAIN_MAGIC

TENANT = "tenant-a"
TOKENS = {"api": "api-token-0123456789", "worker": "worker-token-0123456", "cli": "cli-token-0123456789"}


def _allowed(client: str, op: str, **args: Any) -> bool:
    try:
        check_allowed(client, op, Args(args))
    except OperationNotAllowed:
        return False
    return True


def _sign(tenant: str, purpose: str = "message") -> dict[str, Any]:
    return {"key_id": "k_1", "tenant": tenant, "purpose": purpose, "format": "ecdsa-sha256"}


def _policy(tenant: str) -> dict[str, Any]:
    return {"kind": "secp256r1", "policy": {"tenant": tenant, "purposes": ["message"]}}


# What the api client may and may not do --------------------------------------------------------------


@pytest.mark.parametrize("op", ["sign", "sign_batch", "sign_batch_packed"])
def test_api_signs_with_tenant_keys_only(op: str) -> None:
    assert _allowed(API, op, **_sign(TENANT))
    assert not _allowed(API, op, **_sign(PLATFORM_KEY_OWNER, "neo-tx"))
    assert not _allowed(API, op, **_sign(PLATFORM_KEY_OWNER, "oracle"))


def test_api_single_sign_refuses_every_platform_purpose() -> None:
    assert not _allowed(API, "sign", **_sign(PLATFORM_KEY_OWNER, "randomness"))


def test_api_never_raw_signs_with_a_randomness_key() -> None:
    for op in ("sign", "sign_batch", "sign_batch_packed"):
        assert not _allowed(API, op, **_sign(PLATFORM_KEY_OWNER, "randomness"))


def _facts(magic: int, contract: bytes) -> dict[str, Any]:
    return {
        "magic": magic,
        "contract": b64encode(contract),
        "request_id": 7,
        "consumer": b64encode(b"c" * 20),
        "seed": b64encode(b"s" * 32),
    }


def _fulfil(*items: dict[str, Any]) -> dict[str, Any]:
    return {"tenant": PLATFORM_KEY_OWNER, "bls_key_id": "k_b", "ecdsa_key_id": "k_e", "items": list(items)}


def test_api_answers_off_chain_randomness_only() -> None:
    offchain = _facts(OFFCHAIN_MAGIC, OFFCHAIN_CONTRACT)
    assert _allowed(API, "randomness_fulfil", **_fulfil(offchain))
    on_chain = _facts(860833102, b"\x01" * 20)
    assert not _allowed(API, "randomness_fulfil", **_fulfil(on_chain))
    assert not _allowed(API, "randomness_fulfil", **_fulfil(offchain, on_chain))
    assert not _allowed(API, "randomness_fulfil", **_fulfil(_facts(OFFCHAIN_MAGIC, b"\x01" * 20)))
    assert not _allowed(API, "randomness_fulfil", **_fulfil(_facts(860833102, OFFCHAIN_CONTRACT)))
    assert not _allowed(API, "randomness_fulfil", **_fulfil())
    assert not _allowed(API, "randomness_fulfil", items="x")
    assert _allowed(WORKER, "randomness_fulfil", **_fulfil(on_chain))


def test_api_creates_tenant_keys_never_platform_keys() -> None:
    assert _allowed(API, "create_key", **_policy(TENANT))
    assert not _allowed(API, "create_key", **_policy(PLATFORM_KEY_OWNER))


def test_a_tenant_key_never_takes_the_typed_only_compute_purpose() -> None:
    policy = {"tenant": TENANT, "purposes": ["compute"]}
    assert not _allowed(API, "create_key", kind="secp256r1", policy=policy)


@pytest.mark.parametrize("op", ["rotate", "disable", "destroy"])
def test_api_key_lifecycle_on_tenant_keys_only(op: str) -> None:
    assert _allowed(API, op, key_id="k_1", tenant=TENANT)
    assert not _allowed(API, op, key_id="k_1", tenant=PLATFORM_KEY_OWNER)


def test_api_seals_for_tenants_not_for_the_platform() -> None:
    assert _allowed(API, "seal", tenant=TENANT, label="secret:db:v1", plaintext="eA==")
    assert not _allowed(API, "seal", tenant=PLATFORM_KEY_OWNER, label="x", plaintext="eA==")


def test_api_never_unseals_a_secret_value() -> None:
    assert not _allowed(API, "unseal", tenant=TENANT, label="secret:db:v1", blob="eA==")
    assert not _allowed(API, "unseal", tenant=TENANT, label="anything", blob="eA==")
    assert not _allowed(API, "unseal", tenant=PLATFORM_KEY_OWNER, label="secret-source:v", blob="eA==")
    assert not _allowed(API, "unseal", tenant=TENANT, blob="eA==")


def test_api_unseals_only_a_remembered_import_source() -> None:
    assert _allowed(API, "unseal", tenant=TENANT, label="secret-source:vault", blob="eA==")


@pytest.mark.parametrize(
    "op",
    [
        "migration_offer",
        "migration_export",
        "migration_import",
        "randomness_fulfil",
        "sign_transaction",
        "allow_contracts",
        "no_such_op",
    ],
)
def test_api_has_no_worker_or_cli_operation(op: str) -> None:
    assert not _allowed(API, op)


@pytest.mark.parametrize("op", ["status", "random", "attest", "public_key", "load_key"])
def test_api_reads_and_composed_ops(op: str) -> None:
    assert _allowed(API, op)


def test_api_answers_offchain_oracle_requests_only() -> None:
    """An on-chain oracle answer (or refusal) needs a real magic and contract: the api cannot ask for one."""
    offchain = {
        "magic": OFFCHAIN_MAGIC,
        "contract": b64encode(OFFCHAIN_CONTRACT),
        "request_url": "https://a/",
    }
    assert _allowed(API, "oracle_fetch", **offchain)
    assert _allowed(API, "oracle_fetch", **offchain, code=24)
    for other in (
        {"magic": 860833102},
        {"contract": b64encode(b"\x01" * 20)},
        {"magic": None},
        {"contract": None},
    ):
        assert not _allowed(API, "oracle_fetch", **{**offchain, **other}), other
    assert not _allowed(API, "oracle_fetch")
    assert _allowed(WORKER, "oracle_fetch", **{**offchain, "magic": 860833102})


# worker and cli ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sign", "sign_batch", "sign_batch_packed"])
def test_worker_raw_signs_with_no_key(op: str) -> None:
    assert not _allowed(WORKER, op, **_sign(PLATFORM_KEY_OWNER, "oracle"))
    assert not _allowed(WORKER, op, **_sign(TENANT))


@pytest.mark.parametrize("op", ["sign", "sign_batch", "sign_batch_packed"])
def test_worker_never_raw_signs_a_transaction(op: str) -> None:
    assert not _allowed(WORKER, op, **_sign(PLATFORM_KEY_OWNER, "neo-tx"))
    assert not _allowed(WORKER, op, **{**_sign(PLATFORM_KEY_OWNER, "oracle"), "format": "neo-tx"})
    assert _allowed(WORKER, "sign_transaction", key_id="k_1")
    assert not _allowed(WORKER, "allow_contracts", network_magic=1, contracts={})


def test_worker_creates_platform_keys_only_and_destroys_tenant_keys() -> None:
    assert _allowed(WORKER, "create_key", **_policy(PLATFORM_KEY_OWNER))
    assert not _allowed(WORKER, "create_key", **_policy(TENANT))
    assert _allowed(WORKER, "destroy", key_id="k_1", tenant=TENANT)
    assert not _allowed(WORKER, "destroy", key_id="k_1", tenant=PLATFORM_KEY_OWNER)


@pytest.mark.parametrize(
    "op", ["unseal", "seal", "rotate", "disable", "migration_export", "migration_import", "attest"]
)
def test_worker_refused(op: str) -> None:
    assert not _allowed(WORKER, op, tenant=TENANT, key_id="k_1", label="secret-source:x")


def test_worker_runs_the_platform_request_ops() -> None:
    for op in ("oracle_fetch", "randomness_fulfil", "random", "status", "load_key", "public_key"):
        assert _allowed(WORKER, op), op


def test_cli_provisions_and_migrates() -> None:
    assert _allowed(CLI, "create_key", **_policy(PLATFORM_KEY_OWNER))
    assert not _allowed(CLI, "create_key", **_policy(TENANT))
    assert _allowed(CLI, "sign", **_sign(PLATFORM_KEY_OWNER, "neo-tx"))
    assert _allowed(CLI, "allow_contracts", network_magic=1, contracts={})
    assert not _allowed(CLI, "sign", **_sign(TENANT))
    for op in ("migration_offer", "migration_export", "migration_import", "rotate", "status"):
        assert _allowed(CLI, op, key_id="k_1", tenant=TENANT), op
    for op in (
        *("seal", "unseal", "oracle_fetch", "disable", "destroy", "randomness_fulfil"),
        *("compute_load", "compute_run"),
    ):
        assert not _allowed(CLI, op, tenant=TENANT, label="secret-source:x"), op


def test_no_client_unseals_a_secret_value() -> None:
    for client in (API, WORKER, CLI):
        assert not _allowed(client, "unseal", tenant=TENANT, label="secret:db:v1", blob="eA==")


def test_unknown_client_may_call_nothing() -> None:
    assert not _allowed("someone", "status")


def test_legacy_single_token_may_call_everything() -> None:
    check_allowed(LEGACY, "unseal", Args({"tenant": PLATFORM_KEY_OWNER}))
    check_allowed(None, "migration_export", Args({}))


def test_every_operation_of_the_enclave_is_on_some_list(tmp_path: Path) -> None:
    sealer = Sealer(b"s" * 32)
    operations = EnclaveOperations(
        SimulationPlatform(tmp_path), sealer, KeyStore(sealer, Revocations(sealer, tmp_path / "r"))
    )
    listed = set().union(*(allowed_ops(c) for c in (API, WORKER, CLI)))
    served = set(operations._ops) | set(operations._async_ops)
    assert served <= listed, served - listed
    assert set(ALLOWED) == {API, WORKER, CLI}


def test_refusal_is_a_policy_denial_on_the_host() -> None:
    assert ERRORS_BY_CODE["operation_not_allowed"] is OperationNotAllowed
    assert issubclass(OperationNotAllowed, PolicyDenied)


# Tokens ------------------------------------------------------------------------------------------------


def _credentials() -> dict[str, bytes]:
    return {name: token.encode() for name, token in TOKENS.items()}


def test_each_token_names_its_client() -> None:
    for name, token in TOKENS.items():
        assert authenticate(token, _credentials()) == name


@pytest.mark.parametrize("presented", ["wrong-token-0123456789", "", None, 5, TOKENS["api"] + "x"])
def test_wrong_or_missing_token_is_unauthorized(presented: object) -> None:
    with pytest.raises(Unauthorized):
        authenticate(presented, _credentials())


def test_decode_request_carries_the_client() -> None:
    body = json.dumps(
        {"v": PROTOCOL_VERSION, "id": 1, "token": TOKENS["worker"], "op": "status", "args": {}}
    ).encode()
    assert decode_request(body, _credentials()).client == WORKER
    assert decode_request(body, TOKENS["worker"].encode()).client is None


def test_parse_clients_checks_names_and_tokens() -> None:
    assert parse_clients(TOKENS) == TOKENS
    bad: object
    for bad in ({}, [], {"admin": "x" * 20}, {"api": "short"}, {"api": "t" * 20, "worker": "t" * 20}):
        with pytest.raises(ValueError, match="NSL_ENCLAVE_CLIENTS"):
            parse_clients(bad)


# Settings ----------------------------------------------------------------------------------------------


def _settings(tmp_path: Path, **values: Any) -> EnclaveSettings:
    return EnclaveSettings(data_dir=tmp_path, **values)


def test_clients_from_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, enclave_clients=SecretStr(json.dumps(TOKENS)))
    assert client_tokens(settings) == _credentials()


def test_bad_clients_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(EnclaveStartupError, match="not JSON") as caught:
        client_tokens(_settings(tmp_path, enclave_clients=SecretStr("{not-json secret-value")))
    assert "secret-value" not in str(caught.value)
    with pytest.raises(EnclaveStartupError, match="unknown client"):
        client_tokens(_settings(tmp_path, enclave_clients=SecretStr('{"root": "0123456789abcdef0"}')))


def test_single_token_only_in_development_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert client_tokens(_settings(tmp_path, enclave_token=SecretStr("dev-token"))) == {
            LEGACY: b"dev-token"
        }
    assert "development only" in caplog.text
    with pytest.raises(EnclaveStartupError, match="NSL_ENCLAVE_CLIENTS"):
        build_server(
            _settings(
                tmp_path,
                enclave_token=SecretStr("dev-token"),
                env=Environment.PRODUCTION,
                tee_allow_simulation=True,
            )
        )


def test_clients_win_over_the_single_token(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, enclave_clients=SecretStr(json.dumps(TOKENS)), enclave_token=SecretStr("dev-token")
    )
    assert LEGACY not in client_tokens(settings)
