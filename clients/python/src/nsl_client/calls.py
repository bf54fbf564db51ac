"""One API call described without doing I/O: the sync and async clients both run the same ``Call``.

Every operation the clients expose is registered in ``OPERATIONS`` with its method, path template and
response model, so a test can hold them against the server's OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter


class Effect(Enum):
    """What the client does with the answer besides returning it."""

    NONE = "none"
    STORE_TOKENS = "store-tokens"
    CLEAR_TOKENS = "clear-tokens"


@dataclass(frozen=True)
class Operation:
    """An endpoint: ``model`` is the response body's model (``list[model]`` when ``many``), ``None``
    when the client returns the JSON as it came or there is no body. ``creates``: the request makes
    something, so it carries an ``Idempotency-Key``. ``streams``: the answer is an endless event
    stream, read by ``stream_events``, never by ``send``."""

    name: str
    method: str
    path: str
    model: type[BaseModel] | None
    many: bool = False
    creates: bool = False
    authenticated: bool = True
    effect: Effect = Effect.NONE
    streams: bool = False

    def call[T](
        self,
        parse: Callable[[Any], T],
        *,
        path: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Call[T]:
        url = self.path.format(**{k: quote(str(v), safe="") for k, v in (path or {}).items()})
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return Call(self, url, query, json, parse, idempotency_key)


@dataclass(frozen=True)
class Call[T]:
    """A request ready to send and how to read its answer."""

    operation: Operation
    url: str
    params: dict[str, Any]
    json: Any
    parse: Callable[[Any], T]
    idempotency_key: str | None = field(default=None)


OPERATIONS: dict[str, Operation] = {}


def register(
    name: str,
    method: str,
    path: str,
    model: type[BaseModel] | None = None,
    *,
    many: bool = False,
    creates: bool = False,
    authenticated: bool = True,
    effect: Effect = Effect.NONE,
    streams: bool = False,
) -> Operation:
    """Record an operation (each name once)."""
    if name in OPERATIONS:
        raise ValueError(f"operation {name} registered twice")
    operation = Operation(name, method, path, model, many, creates, authenticated, effect, streams)
    OPERATIONS[name] = operation
    return operation


def parser[M: BaseModel](model: type[M]) -> Callable[[Any], M]:
    return model.model_validate


def list_parser[M: BaseModel](model: type[M]) -> Callable[[Any], list[M]]:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter.validate_python


def as_json(data: Any) -> Any:
    return data


def nothing(_data: Any) -> None:
    return None
