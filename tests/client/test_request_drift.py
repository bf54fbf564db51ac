"""The bodies the client sends name only properties of the server's request schemas, and every
property the server requires."""

from __future__ import annotations

from typing import Any

import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from nsl_client.calls import OPERATIONS, Call
from nsl_client.models import OracleAnswer, RandomnessAnswer, Receipt
from nsl_client.ops import events, identity, keys_secrets, secret_import, services
from tests.client.openapi_drift import resolve

HASH = "0x" + "00" * 20
RANDOMNESS = RandomnessAnswer(
    request_id="1", seed="00", proof="00", output="00", words=["1"], signature="00", public_key="02",
    bls_public_key="80", network_magic=0, contract=HASH, consumer=HASH,
)  # fmt: skip
ORACLE = OracleAnswer(
    request_id="1", code=0, code_name="SUCCESS", result="00", result_text=None, timestamp=1,
    network_magic=0, contract=HASH, consumer=HASH, url="https://x", filter="", signature="00",
    public_key="02", key_version=1, status=200, content_type=None, detail="",
)  # fmt: skip
RECEIPT = Receipt(
    version=1, tenant="t", function_id="fn", function_hash="00" * 32, input_sha256="00" * 32, code=0,
    timestamp=1, result_sha256="00" * 32, signature="00" * 64, public_key="02" * 33, key_version=1,
)  # fmt: skip
#: one source of each provider, every optional argument given
SOURCES = {
    "VaultIn": secret_import.vault_source(
        "https://vault", token="t", mount_point="kv", path_prefix="p", namespace="n", verify_tls=False,
        timeout_seconds=5,
    ),
    "VaultIn (AppRole)": secret_import.vault_source(
        "https://vault", role_id="r", secret_id="s", approle_mount="approle"
    ),
    "AwsIn": secret_import.aws_source(
        "eu-central-1", "AKIA", "secret", session_token="tok", endpoint_url="https://aws", name_prefix="p/",
        timeout_seconds=5,
    ),
    "AzureIn": secret_import.azure_source(
        "https://kv.vault.azure.net", "ten", "cli", "sec", timeout_seconds=5
    ),
}  # fmt: skip

#: one call of every operation that sends a body, with every optional argument given
SAMPLES: list[Call[Any]] = [
    identity.sign_in("u", "p", totp_code="1", backup_code="b", tenant="t"),
    identity.refresh_tokens("r"),
    identity.verify_totp("123456"),
    identity.create_tenant("t", plan="free"),
    identity.add_member("ten", "u", "developer", password="p"),
    identity.change_member_role("ten", "usr", "viewer"),
    identity.create_api_key("ten", "n", ["keys:read"]),
    keys_secrets.create_key("secp256r1", "l", ["message"], max_signs_per_minute=5),
    keys_secrets.rotate_key("key", min_sign_version=2),
    keys_secrets.sign("key", b"m", format="ecdsa-sha256", version=1),
    keys_secrets.verify_signature("key", b"m", "00", format="ecdsa-sha256", version=1),
    keys_secrets.put_secret("s", "v", consumers=["oracle"], allowed_hosts=["h"], ttl_seconds=60),
    keys_secrets.rotate_secret("s", b"v", ttl_seconds=60),
    keys_secrets.verify_attestation_remote({}, b"12345678", expected_public_keys=["02"]),
    services.randomness(2, seed=b"s"),
    services.oracle_fetch(
        "https://x", template="t", filter="$", headers=[("a", "b")], body="b", timeout_seconds=5
    ),
    services.create_oracle_template("https://x", headers=[("a", "b")], body="b", allowed_consumers=["0x"]),
    services.create_function(
        "f", "wasm", source="s", module=b"m", limits={"fuel": 1}, secrets=["s"], on_chain=True
    ),
    services.run_function("fn", {"a": 1}),
    events.create_job("j", {"everySeconds": 60}, {"webhook": {"url": "https://x"}}, catch_up="none"),
    events.create_subscription("s", {"types": ["*"]}, {"stream": {}}),
    keys_secrets.sign_batch("key", [b"a", b"b"], purpose="message", format="ecdsa-sha256", version=1),
    keys_secrets.verify_public_signature("secp256r1", b"\x02" * 33, b"m", "AA==", format="ecdsa-sha256"),
    secret_import.import_secrets(
        ["a"], source=SOURCES["AwsIn"], remember_as="r", consumers=["oracle"], ttl_seconds=60
    ),
    identity.set_enclave_credentials("ten", True, fresh_start=True),
    services.verify_randomness_remote(RANDOMNESS),
    services.verify_oracle_remote(ORACLE),
    services.verify_receipt_remote(RECEIPT, result=b"r", input={"a": 1}, check_input=True),
]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("drift"), env="test")).openapi()


def _request_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    body = spec["paths"][path][method.lower()].get("requestBody")
    if body is None:
        return None
    schema = resolve(spec, body["content"]["application/json"]["schema"])
    if schema.get("properties"):  # an object (its anyOf, if any, constrains it: not alternatives)
        return schema
    objects = [resolve(spec, s) for s in schema.get("anyOf", [schema]) if resolve(spec, s).get("properties")]
    return objects[0] if objects else schema


def test_every_body_the_client_sends_fits_the_request_schema(spec: dict[str, Any]) -> None:
    problems: list[str] = []
    for call in SAMPLES:
        op = call.operation
        schema = _request_schema(spec, op.method, op.path)
        assert schema is not None, f"{op.name}: the server takes no body"
        properties, required = set(schema.get("properties", {})), set(schema.get("required", []))
        sent = set(call.json)
        problems += [f"{op.name} sends {name}, not a property" for name in sorted(sent - properties)]
        problems += [f"{op.name} never sends required {name}" for name in sorted(required - sent)]
    assert problems == []


def test_every_operation_that_takes_a_body_has_a_sample(spec: dict[str, Any]) -> None:
    sampled = {call.operation.name for call in SAMPLES}
    taking = {
        op.name
        for op in OPERATIONS.values()
        if "requestBody" in spec["paths"][op.path][op.method.lower()]
        and "application/json" in spec["paths"][op.path][op.method.lower()]["requestBody"]["content"]
    }
    assert taking <= sampled


def test_each_import_source_fits_its_provider_schema(spec: dict[str, Any]) -> None:
    """The source objects ``import_secrets`` sends (nested in the body, so not checked above), their
    Vault auth and AWS credentials included, and a Vault field (``vault_field``)."""
    schemas = spec["components"]["schemas"]
    problems: list[str] = []
    visited: list[str] = []

    def check(where: str, sent: dict[str, Any], schema: dict[str, Any]) -> None:
        visited.append(where)
        properties, required = schema.get("properties", {}), set(schema.get("required", []))
        problems.extend(
            f"{where} sends {name}, not a property" for name in sorted(set(sent) - set(properties))
        )
        problems.extend(f"{where} never sends required {name}" for name in sorted(required - set(sent)))
        for name, value in sent.items():
            nested = [
                resolve(spec, s) for s in properties.get(name, {}).get("anyOf", [properties.get(name, {})])
            ]
            objects = [n for n in nested if n.get("properties")]
            if isinstance(value, dict) and objects:
                fitting = [o for o in objects if set(value) <= set(o["properties"])]
                check(f"{where}.{name}", value, fitting[0] if fitting else objects[0])

    for name, source in SOURCES.items():
        check(name, source, schemas[name.split(" ")[0]])
    check(
        "VaultFieldIn",
        secret_import.vault_field("db/creds", "password", "db-password"),
        schemas["VaultFieldIn"],
    )
    assert problems == []
    assert {"VaultIn.auth", "VaultIn (AppRole).auth", "AwsIn.credentials", "VaultFieldIn"} <= set(visited)
    with pytest.raises(ValueError, match="give token"):
        secret_import.vault_source("https://vault")
    with pytest.raises(ValueError, match="give token"):
        secret_import.vault_source("https://vault", token="t", role_id="r", secret_id="s")
