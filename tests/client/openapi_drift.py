"""Holding the client's operations and models against the server's OpenAPI document.

A client field must be a property of the schema it reads (under its wire name), every type the server
may send there must be one the client accepts, and a field the client requires must be one the server
always sends. Nested models are checked against the schemas they stand for.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from typing import Any

from pydantic import BaseModel

_SCALARS: dict[Any, set[str]] = {
    str: {"string"},
    int: {"integer"},
    float: {"number", "integer"},
    bool: {"boolean"},
    datetime: {"string"},
    type(None): {"null"},
}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def server_types(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema allows (an empty schema allows anything: ``{"any"}``)."""
    schema = resolve(spec, schema)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return set().union(*(server_types(spec, s) for s in schema[combinator]))
    if "type" in schema:
        kind = schema["type"]
        return set(kind) if isinstance(kind, list) else {kind}
    if "properties" in schema:
        return {"object"}
    if "enum" in schema:
        return {"string"}
    return {"any"}


def client_types(annotation: Any) -> set[str]:
    """The JSON types a field annotation accepts (``Any``: ``{"any"}``)."""
    if annotation is Any:
        return {"any"}
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        return set().union(*(client_types(a) for a in typing.get_args(annotation)))
    if origin is list:
        return {"array"}
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return {"object"}
    return set(_SCALARS[annotation])


def _nested(annotation: Any) -> list[type[BaseModel]]:
    """The models inside an annotation (``Model``, ``Model | None``, ``list[Model]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested(arg)]


def _item_schema(spec: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas a property's value may be (through nullability and arrays)."""
    schema = resolve(spec, schema)
    found: list[dict[str, Any]] = []
    for option in schema.get("anyOf", [schema]):
        option = resolve(spec, option)
        if option.get("type") == "array":
            found += _item_schema(spec, option.get("items", {}))
        elif "properties" in option:
            found.append(option)
    return found


def model_problems(spec: dict[str, Any], model: type[BaseModel], schema: dict[str, Any]) -> list[str]:
    """Where ``model`` disagrees with ``schema`` (empty: it reads what the server sends)."""
    schema = resolve(spec, schema)
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    problems: list[str] = []
    for name, field in model.model_fields.items():
        wire = field.alias or name
        where = f"{model.__name__}.{wire}"
        if wire not in properties:
            problems.append(f"{where} is not a property of the schema")
            continue
        sent, accepted = server_types(spec, properties[wire]), client_types(field.annotation)
        if "any" not in accepted and not sent <= accepted:
            problems.append(f"{where}: the server sends {sorted(sent)}, the client takes {sorted(accepted)}")
        if field.is_required() and wire not in required:
            problems.append(f"{where} is required by the client but optional in the schema")
        for nested in _nested(field.annotation):
            for item in _item_schema(spec, properties[wire]):
                problems += model_problems(spec, nested, item)
    return problems


def response_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The JSON schema of the operation's first 2xx answer (``None`` when it has no JSON body)."""
    responses = spec["paths"][path][method.lower()]["responses"]
    for status in sorted(s for s in responses if s.startswith("2")):
        content = responses[status].get("content", {})
        if "application/json" in content:
            return dict(content["application/json"].get("schema", {}))
    return None
