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


class ReceiptVerdict(CamelModel):
    valid: bool
    #: what did not hold (empty when valid)
    problems: list[str]


class ComputeRequestState(CamelModel):
    """An on-chain compute request: as stored, or (``source`` ``chain``) as the contract knows it."""

    request_id: str
    contract: str
    #: pending, fulfilled, delivered, callback_failed, failed, refunded
    status: str
    consumer: str | None = None
    function_id: str | None = None
    args: str | None = None
    request_block: int | None = None
    fulfilled_block: int | None = None
    fulfilled_tx: str | None = None
    delivered_block: int | None = None
    pending_tx: str | None = None
    attempts: int | None = None
    #: the answer last sent: its outcome, the hash of the code that ran, and why it did not succeed
    outcome: str | None = None
    code: int | None = None
    function_hash: str | None = None
    result: str | None = None
    detail: str | None = None
    failure_reason: str | None = None
    source: str = "database"
