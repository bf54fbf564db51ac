"""The OpenAPI document of the operations that take ``Idempotency-Key``: what a repeat can answer."""

from __future__ import annotations

from typing import Any

from neo_service_layer.kernel.idempotency.rules import HEADER, REPLAYED_HEADER

_CONFLICT = (
    " With `Idempotency-Key`: a request with the same key is still running (`idempotency-key-in-flight`,"
    " `Retry-After`), or the original answer showed a secret once and is not replayed"
    " (`idempotency-key-one-time-secret`)."
)
_REUSED = (
    " With `Idempotency-Key`: the key was used for a request with another body (`idempotency-key-reused`)."
)
_REPLAYED = {
    "description": "`true` when this is the stored answer to an earlier request with the same key.",
    "schema": {"type": "string", "enum": ["true"]},
}


def _takes_key(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "header" and p.get("name", "").lower() == HEADER.lower()
        for p in operation.get("parameters", [])
    )


def document_idempotency(document: dict[str, Any]) -> dict[str, Any]:
    """Add the repeat's answers to every operation taking the header (in place; returns it)."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict) or not _takes_key(operation):
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith("2"):
                    response.setdefault("headers", {})[REPLAYED_HEADER] = _REPLAYED
            conflict = responses.get("409")
            if conflict is not None:
                conflict["description"] = conflict.get("description", "") + _CONFLICT
                conflict.setdefault("headers", {})["Retry-After"] = {
                    "schema": {"type": "integer"},
                    "required": False,
                }
            invalid = responses.get("422")
            if invalid is not None:
                invalid["description"] = invalid.get("description", "") + _REUSED
    return document
