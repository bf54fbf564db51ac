"""The client cannot drift from the server: every operation's (method, path) is in the server's
OpenAPI and every model field is a property of the schema it reads, with compatible type and
required-ness."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.config import Settings
from nsl_client import AsyncClient, Client
from nsl_client.calls import OPERATIONS
from nsl_client.models import Function, Key
from tests.client.openapi_drift import model_problems, resolve, response_schema

#: client methods that are not one HTTP operation
HELPERS = {"send", "close", "refresh", "iterate"}

#: the server's operations the client leaves out on purpose, and why
NOT_FOR_THE_CLIENT: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/native-oracle/rpc"): (
        "the JSON-RPC endpoint Neo's other oracle nodes call (node to node), not an API of tenants"
    ),
    ("GET", "/health/live"): "the liveness probe of orchestrators; `health` reads /health/ready",
    ("GET", "/.well-known/jwks.json"): (
        "the keys that verify access tokens, for resource servers that check them with a JWT library; "
        "the client treats its tokens as opaque and never verifies one"
    ),
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("drift"), env="test")
    return create_app(settings).openapi()


def _api_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_") and name not in HELPERS
    }


def test_every_client_method_is_a_registered_operation() -> None:
    assert _api_methods(Client) == set(OPERATIONS)
    assert _api_methods(AsyncClient) == set(OPERATIONS)


def test_every_operation_exists_on_the_server(spec: dict[str, Any]) -> None:
    missing = [
        f"{op.method} {op.path}"
        for op in OPERATIONS.values()
        if op.method.lower() not in spec["paths"].get(op.path, {})
    ]
    assert missing == []


def _server_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return {(m.upper(), path) for path, item in spec["paths"].items() for m in item if m in methods}


def _uncovered(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The server's operations that are neither a client operation nor excluded."""
    covered = {(op.method, op.path) for op in OPERATIONS.values()}
    return sorted(_server_operations(spec) - covered - NOT_FOR_THE_CLIENT.keys())


def test_every_server_operation_is_a_client_operation_or_excluded_with_a_reason(spec: dict[str, Any]) -> None:
    """A new route on the server fails this until the client covers it (or it is excluded here, with
    the reason); an exclusion the client covers after all, or one the server dropped, fails it too."""
    served = _server_operations(spec)
    covered = {(op.method, op.path) for op in OPERATIONS.values()}
    assert _uncovered(spec) == []
    assert sorted(NOT_FOR_THE_CLIENT.keys() - served) == []
    assert sorted(NOT_FOR_THE_CLIENT.keys() & covered) == []
    assert all(reason.strip() for reason in NOT_FOR_THE_CLIENT.values())
    assert len(covered) == len(OPERATIONS)  # no two client operations for one server operation


def test_the_coverage_check_fails_on_an_operation_the_client_lacks(spec: dict[str, Any]) -> None:
    keys = spec["paths"]["/api/v1/keys"]
    grown = {
        **spec,
        "paths": {**spec["paths"], "/api/v1/keys": {**keys, "patch": {}}, "/api/v1/new-thing": {"get": {}}},
    }
    assert _uncovered(grown) == [("GET", "/api/v1/new-thing"), ("PATCH", "/api/v1/keys")]


def test_every_response_model_reads_what_the_server_sends(spec: dict[str, Any]) -> None:
    problems: list[str] = []
    checked = 0
    for op in OPERATIONS.values():
        schema = response_schema(spec, op.method, op.path)
        if op.model is None:
            continue
        assert schema is not None, f"{op.name}: the server answers no JSON body"
        schema = resolve(spec, schema)
        if op.many:
            assert schema.get("type") == "array", f"{op.name}: the server answers no list"
            schema = schema["items"]
        problems += model_problems(spec, op.model, schema)
        checked += 1
    assert problems == []
    assert checked >= 50


def test_the_check_fails_on_a_renamed_field_a_wrong_type_or_a_field_the_server_may_omit(
    spec: dict[str, Any],
) -> None:
    key_schema = response_schema(spec, "GET", "/api/v1/keys/{key_id}")
    function_schema = response_schema(spec, "GET", "/api/v1/compute/functions/{function_id}")
    assert key_schema is not None
    assert function_schema is not None
    assert model_problems(spec, Key, key_schema) == []

    class RenamedKey(Key):
        label_text: str  # the server's field is "label"

    class RetypedFunction(Function):
        size: str  # type: ignore[assignment]  # the server sends an integer

    class StrictSigningKey(BaseModel):
        algorithm: str = Field()  # optional in the schema

    renamed = model_problems(spec, RenamedKey, key_schema)
    assert renamed == ["RenamedKey.label_text is not a property of the schema"]
    retyped = model_problems(spec, RetypedFunction, function_schema)
    assert retyped == ["RetypedFunction.size: the server sends ['integer'], the client takes ['string']"]
    signing = response_schema(spec, "GET", "/api/v1/webhooks/signing-key")
    assert signing is not None
    assert model_problems(spec, StrictSigningKey, signing) == [
        "StrictSigningKey.algorithm is required by the client but optional in the schema"
    ]


def test_the_live_schema_is_the_one_checked(spec: dict[str, Any], tmp_path: Path) -> None:
    """``/openapi.json`` of a running server is the document ``create_app(...).openapi()`` builds."""
    from tests.http.serverproc import running_server

    with running_server(tmp_path / "data", {"NSL_ENV": "test"}) as server, Client(server.base_url) as c:
        served = c.send(_openapi_call())
    assert served["paths"].keys() == spec["paths"].keys()
    assert _server_operations(served) == _server_operations(spec)


def _openapi_call() -> Any:
    from nsl_client.calls import Operation, as_json

    return Operation("openapi", "GET", "/openapi.json", None, authenticated=False).call(as_json)


def test_the_client_sends_idempotency_keys_exactly_where_the_server_takes_them(spec: dict[str, Any]) -> None:
    def takes_key(method: str, path: str) -> bool:
        parameters = spec["paths"][path][method.lower()].get("parameters", [])
        return any(p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in parameters)

    sends = {op.name for op in OPERATIONS.values() if op.creates}
    taken = {op.name for op in OPERATIONS.values() if takes_key(op.method, op.path)}
    assert sends == taken
