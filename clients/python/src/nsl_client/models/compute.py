"""Compute: functions, runs and their signed receipts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nsl_client.models.base import CamelModel


class Function(CamelModel):
    function_id: str
    name: str
    language: str
    digest: str
    size: int
    limits: dict[str, Any]
    secrets: list[str]
    on_chain: bool
    created_at: datetime


class FunctionPage(CamelModel):
    functions: list[Function]
    next: str | None

    @property
    def items(self) -> Sequence[Function]:
        return self.functions

    @property
    def cursor(self) -> str | None:
        return self.next


class Receipt(CamelModel):
    """What the compute key signed about a run; ``verify.verify_compute_receipt`` checks it."""

    version: int
    tenant: str
    function_id: str
    function_hash: str
    input_sha256: str
    code: int
    timestamp: int
    result_sha256: str
    signature: str
    public_key: str
    key_version: int


class Run(CamelModel):
    run_id: str
    function_id: str
    outcome: str
    code: int
    detail: str
    result_base64: str
    result_text: str | None
    fuel_used: int
    wall_ms: int
    fetches: int
    created_at: datetime
    receipt: Receipt
    log: str | None = None
    limits: dict[str, Any] | None = None


class RunList(CamelModel):
    runs: list[Run]


class ComputeKey(CamelModel):
    public_key: str
