"""Fakes of the tenant-job tests: a recording webhook sender (every call answered 204, its signature
checked with the secret the API returned for the job), a chain and a recording ``JobObserver``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from neo_service_layer.kernel.chain.ports.chain import BlockEvents, ChainEvent, ContractCall
from neo_service_layer.services.automation.rules.jobs import (
    JOB_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    verify_signature,
)


@dataclass
class Sent:
    job: str
    body: dict[str, Any]
    valid: bool


@dataclass
class Sender:
    """Implements ``ports.WebhookSender``; fill ``secrets`` (job id -> secret) from the creations."""

    secrets: dict[str, bytes] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    async def check(self, url: str) -> None:
        return None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Delivery:
        job = headers[JOB_HEADER]
        secret = self.secrets.get(job, b"")
        valid = verify_signature(secret, int(headers[TIMESTAMP_HEADER]), body, headers[SIGNATURE_HEADER])
        self.sent.append(Sent(job, json.loads(body), valid))
        return Delivery(204)


C = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
TX = "0x" + "11" * 32


@dataclass
class FakeChain:
    head: int = 10
    events: dict[int, list[ChainEvent]] = field(default_factory=dict)
    answers: dict[str, object] = field(default_factory=dict)
    reads: list[ContractCall] = field(default_factory=list)

    async def height(self) -> int:
        return self.head

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        return BlockEvents(
            index, None, tuple(e for e in self.events.get(index, []) if e.contract == contract)
        )

    async def block_time(self, index: int) -> datetime:
        raise AssertionError("not read")

    async def read(self, call: ContractCall) -> tuple[Any, ...]:
        self.reads.append(call)
        answer = self.answers[call.method]
        if isinstance(answer, Exception):
            raise answer
        return (answer,)

    def emit(self, block: int, name: str, *values: object, contract: str = C, state: str = "HALT") -> None:
        self.events.setdefault(block, []).append(ChainEvent(block, TX, contract, name, values, state))


class Recorder:
    """A recording ``JobObserver``."""

    def __init__(self) -> None:
        self.runs: Counter[tuple[str, str, str]] = Counter()
        self.latencies: list[float] = []

    def run(self, kind: str, outcome: str, reason: str = "", count: int = 1) -> None:
        self.runs[(kind, outcome, reason)] += count

    def latency(self, kind: str, seconds: float) -> None:
        self.latencies.append(seconds)
