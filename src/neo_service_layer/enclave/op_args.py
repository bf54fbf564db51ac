"""Argument checks the typed signing operations share: a batch of fact items, and the kind of a key."""

from __future__ import annotations

from collections.abc import Callable

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import MAX_SIGN_BATCH, InvalidKeyRequest, KeyKind
from neo_service_layer.enclave.wire.protocol import Args, BadRequest


def batch_items[T](args: Args, parse: Callable[[Args], T]) -> list[T]:
    """``args["items"]`` parsed one by one: 1 to ``MAX_SIGN_BATCH`` objects, a bad field refused as an
    invalid key request (a wire-level ``BadRequest`` when an item is not an object)."""
    raw = args.opt_list("items")
    if not 1 <= len(raw) <= MAX_SIGN_BATCH:
        raise InvalidKeyRequest(f"fulfil between 1 and {MAX_SIGN_BATCH} requests at a time")
    parsed: list[T] = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadRequest("field 'items' must be a list of objects")
        try:
            parsed.append(parse(Args(item)))
        except InvalidInput as exc:
            raise InvalidKeyRequest(str(exc)) from None
    return parsed


def require_kind(keys: KeyStore, key_id: str, kind: KeyKind, field: str) -> None:
    if keys.info(key_id).kind is not kind:
        raise InvalidKeyRequest(f"{field} must name a {kind.value} key")
