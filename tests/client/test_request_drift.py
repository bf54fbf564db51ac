"""The bodies the client sends name only properties of the server's request schemas, and every
property the server requires."""

from __future__ import annotations

from typing import Any

import pytest

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from nsl_client.calls import OPERATIONS, Call
from nsl_client.ops import events, identity, keys_secrets, services
from tests.client.openapi_drift import resolve

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
]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("drift"), env="test")).openapi()


def _request_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    body = spec["paths"][path][method.lower()].get("requestBody")
    if body is None:
        return None
    schema = resolve(spec, body["content"]["application/json"]["schema"])
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
