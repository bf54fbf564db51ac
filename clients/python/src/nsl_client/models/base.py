"""Model bases: server field names as they are (``ApiModel``), or camelCase on the wire and snake_case
in Python (``CamelModel``). Unknown fields are ignored, so a server that adds one breaks nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CamelModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True)


class Page[I](Protocol):
    """A page of a list route: its items and the cursor of the next page (``None`` on the last)."""

    @property
    def items(self) -> Sequence[I]: ...

    @property
    def cursor(self) -> str | None: ...
