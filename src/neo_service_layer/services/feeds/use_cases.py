"""Price feed rounds: fetch every source through the enclave, aggregate, publish on deviation or heartbeat.

A round of one feed (rules in ``domain/feeds.py``):

1. every source is fetched with ``Enclave.oracle_fetch`` (so the SSRF guard, limits and JSONPath filter of
   the oracle apply) at the same time; a source that fails, answers a non-success code or a value that is
   not one decimal number counts as missing;
2. ``aggregate`` drops outliers and needs the quorum; otherwise the round ends as ``quorum_lost`` and
   nothing is written;
3. the last published round is read from the feed contract (``latestRoundData``): the chain is the only
   record, so several workers and restarts agree;
4. on the first round, a deviation beyond the threshold or an expired heartbeat, the update is signed by
   the oracle key (``domain/feed_updates.update_message``), dry-run, and sent. While our update for a
   pair is in flight (not included, not expired) no new one is built for it.

Outcomes (``nsl_feed_rounds_total{pair,outcome}``): ``published_first``, ``published_deviation``,
``published_heartbeat``, ``unchanged``, ``quorum_lost``, ``in_flight``, ``rejected`` (the dry-run of the
update faulted, e.g. another writer was first), ``error``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER, Purpose, SignatureFormat
from neo_service_layer.enclave.wire.oracle import FetchSpec, OracleFacts, ResultCode
from neo_service_layer.kernel.chain.ports.chain import Chain, ContractCall, SendOutcome
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.feeds.rules.aggregation import (
    Published,
    QuorumNotMet,
    Round,
    aggregate,
    from_fixed_point,
    parse_value,
    publish_reason,
    to_fixed_point,
)
from neo_service_layer.services.feeds.rules.updates import FeedDefinition, FeedSource, update_message
from neo_service_layer.services.oracle.api import OracleKey

SOURCE_TIMEOUT_SECONDS = 5.0


class FeedObserver(Protocol):
    def feed_round(self, pair: str, outcome: str) -> None: ...


@dataclass(frozen=True, slots=True)
class LatestRound:
    round_id: int
    answer: int
    started_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True)
class RoundReport:
    """What one round of one feed did."""

    pair: str
    outcome: str
    round: Round | None = None
    round_id: int | None = None
    tx_hash: str | None = None
    detail: str = ""


def value_of(result: bytes) -> Decimal:
    """A filtered oracle result as one decimal: ``1.5`` or ``"1.5"``; ``InvalidInput`` otherwise."""
    try:
        parsed = json.loads(result, parse_float=str, parse_int=str)
    except ValueError:
        raise InvalidInput("not JSON") from None
    if not isinstance(parsed, str):
        raise InvalidInput("not a single number")
    return parse_value(parsed)


def script_hash_le(contract: str) -> bytes:
    """``0x``-hex script hash (big-endian, as nodes show it) as the 20 bytes NeoVM uses."""
    return bytes.fromhex(contract.removeprefix("0x"))[::-1]


async def latest_round(chain: Chain, contract: str, pair: str) -> LatestRound | None:
    """The feed's last published round as the contract stores it; ``None`` before the first round."""
    (data,) = await chain.read(ContractCall(contract, "latestRoundData", (pair,)))
    round_id, answer, started, updated = (int(v) for v in data)
    return LatestRound(round_id, answer, started, updated) if round_id else None


class FeedRunner:
    """Runs rounds of the configured feeds against one feed contract."""

    def __init__(
        self,
        chain: Chain,
        enclave: Callable[[], Enclave],
        key: OracleKey,
        clock: Clock,
        observer: FeedObserver,
        *,
        contract: str,
        feeds: Sequence[FeedDefinition],
    ) -> None:
        self._chain = chain
        self._enclave = enclave
        self._key = key
        self._clock = clock
        self._observer = observer
        self.contract = contract
        self.feeds = list(feeds)
        self._in_flight: dict[str, tuple[str, int]] = {}
        self._fetch_ids = 0

    async def run_all(self) -> list[RoundReport]:
        """One round of every feed (feeds run one after another; sources of a feed at the same time)."""
        return [await self.run_round(feed) for feed in self.feeds]

    async def latest(self, pair: str) -> LatestRound:
        (data,) = await self._chain.read(ContractCall(self.contract, "latestRoundData", (pair,)))
        round_id, answer, started, updated = (int(v) for v in data)
        return LatestRound(round_id, answer, started, updated)

    async def run_round(self, feed: FeedDefinition) -> RoundReport:
        try:
            report = await self._round(feed)
        except Exception:
            self._observer.feed_round(feed.pair, "error")
            raise
        self._observer.feed_round(feed.pair, report.outcome)
        return report

    async def _round(self, feed: FeedDefinition) -> RoundReport:
        started = self._clock.now()
        values = await asyncio.gather(*(self._fetch(source) for source in feed.sources))
        answers = {source.name: value for source, value in zip(feed.sources, values, strict=True)}
        try:
            result = aggregate(answers, feed.policy)
        except QuorumNotMet as exc:
            return RoundReport(feed.pair, "quorum_lost", detail=str(exc))
        if await self._still_in_flight(feed.pair):
            return RoundReport(feed.pair, "in_flight", result)
        latest = await self.latest(feed.pair)
        last = (
            Published(from_fixed_point(latest.answer, feed.decimals), latest.updated_at_ms // 1000)
            if latest.round_id > 0
            else None
        )
        reason = publish_reason(result.answer, last, int(started.timestamp()), feed.policy)
        if reason is None:
            return RoundReport(feed.pair, "unchanged", result, latest.round_id)
        answer = to_fixed_point(result.answer, feed.decimals)
        if answer <= 0:
            return RoundReport(
                feed.pair, "rejected", result, detail="the contract accepts positive answers only"
            )
        round_id = latest.round_id + 1
        started_ms = max(int(started.timestamp() * 1000), latest.started_at_ms + 1)
        message = update_message(
            script_hash_le(self.contract),
            feed.pair,
            round_id,
            answer,
            started_ms,
            feed.decimals,
            feed.description,
        )
        signature = await self._enclave().sign(
            self._key.key_id,
            message,
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.ORACLE,
            fmt=SignatureFormat.ECDSA_SHA256,
        )
        call = ContractCall(
            self.contract,
            "submit",
            (feed.pair, round_id, answer, started_ms, feed.decimals, feed.description, signature),
        )
        dry = await self._chain.dry_run([call])
        if not dry.halted:
            return RoundReport(feed.pair, "rejected", result, round_id, detail=dry.exception or "FAULT")
        tx = await self._chain.build_transaction([call], dry)
        sent = await self._chain.send(tx.raw)
        if sent.outcome is SendOutcome.REJECTED:
            return RoundReport(feed.pair, "rejected", result, round_id, tx.tx_hash, sent.detail)
        self._in_flight[feed.pair] = (tx.tx_hash, tx.valid_until_block)
        return RoundReport(feed.pair, f"published_{reason.value}", result, round_id, tx.tx_hash)

    async def _still_in_flight(self, pair: str) -> bool:
        pending = self._in_flight.get(pair)
        if pending is None:
            return False
        tx_hash, valid_until = pending
        state = await self._chain.transaction_state(tx_hash)
        if state.block is None and await self._chain.height() < valid_until:
            return True
        del self._in_flight[pair]
        return False

    async def _fetch(self, source: FeedSource) -> Decimal | None:
        self._fetch_ids += 1
        spec = FetchSpec(url=source.url, filter=source.path, timeout_seconds=SOURCE_TIMEOUT_SECONDS)
        try:
            checked = spec.check()
            response = await self._enclave().oracle_fetch(  # only the result is used: off-chain facts
                OracleFacts.offchain(self._fetch_ids, PLATFORM_KEY_OWNER, checked.url, checked.filter),
                checked,
                tenant=PLATFORM_KEY_OWNER,
                key_id=self._key.key_id,
                key_tenant=PLATFORM_KEY_OWNER,
            )
            if response.code is not ResultCode.SUCCESS:
                return None
            return value_of(response.result)
        except InvalidInput:
            return None
