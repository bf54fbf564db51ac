"""Price feed rounds: computed and signed in the enclave, published on deviation or heartbeat.

A round of one feed:

1. while our update for the pair is in flight (not included, not expired) nothing is done for it;
2. the last published round is read from the feed contract (``latestRoundData``): the chain is the only
   record, so several workers and restarts agree;
3. the enclave's ``feed_round`` fetches every source itself (SSRF guard, limits, JSONPath), aggregates
   with the feed rules (``enclave/wire/feed_aggregation.py``) and signs the V2 round message bound to the
   network magic, this contract, the pair, round (latest + 1), answer, start, decimals, description and
   the digest of the sources (``enclave/wire/feeds.py``); with too few agreeing sources it signs nothing
   and the round ends as ``quorum_lost``;
4. on the first round, a deviation beyond the threshold or an expired heartbeat the signed update is
   dry-run and sent.

Deciding *whether* to publish stays here, on the host: a compromised host can withhold or delay a round
(bounded by the contract's maximum round age), never choose its value, its sources or its binding.

Outcomes (``nsl_feed_rounds_total{pair,outcome}``): ``published_first``, ``published_deviation``,
``published_heartbeat``, ``unchanged``, ``quorum_lost``, ``in_flight``, ``rejected`` (the enclave refused
a non-positive answer, or the dry-run of the update faulted, e.g. another writer was first), ``error``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from neo_service_layer.enclave.wire.feeds import FeedRoundFacts
from neo_service_layer.enclave.wire.keys import PLATFORM_KEY_OWNER
from neo_service_layer.kernel.chain.ports.chain import Chain, ContractCall, SendOutcome
from neo_service_layer.kernel.clock import Clock
from neo_service_layer.kernel.enclave_client.ports import Enclave
from neo_service_layer.services.feeds.rules.aggregation import (
    Published,
    Round,
    from_fixed_point,
    publish_reason,
)
from neo_service_layer.services.feeds.rules.updates import FeedDefinition
from neo_service_layer.services.oracle.api import OracleKey


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


def script_hash_le(contract: str) -> bytes:
    """``0x``-hex script hash (big-endian, as nodes show it) as the 20 bytes NeoVM uses."""
    return bytes.fromhex(contract.removeprefix("0x"))[::-1]


async def latest_round(chain: Chain, contract: str, pair: str) -> LatestRound | None:
    """The feed's last published round as the contract stores it; ``None`` before the first round."""
    (data,) = await chain.read(ContractCall(contract, "latestRoundData", (pair,)))
    round_id, answer, started, updated = (int(v) for v in data)
    return LatestRound(round_id, answer, started, updated) if round_id else None


async def recent_rounds(chain: Chain, contract: str, pair: str, count: int) -> list[LatestRound]:
    """Up to ``count`` rounds the contract holds, newest first, read one by one from the latest back
    (``getRoundData``); a gap in the ids ends the list."""
    latest = await latest_round(chain, contract, pair)
    if latest is None:
        return []
    rounds = [latest]
    for round_id in range(latest.round_id - 1, max(latest.round_id - count, 0), -1):
        (data,) = await chain.read(ContractCall(contract, "getRoundData", (pair, round_id)))
        found, answer, started, updated = (int(v) for v in data)
        if not found:
            break
        rounds.append(LatestRound(found, answer, started, updated))
    return rounds


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
        if await self._still_in_flight(feed.pair):
            return RoundReport(feed.pair, "in_flight")
        latest = await self.latest(feed.pair)
        started = self._clock.now()
        round_id = latest.round_id + 1
        started_ms = max(int(started.timestamp() * 1000), latest.started_at_ms + 1)
        facts = FeedRoundFacts(
            self._chain.magic,
            script_hash_le(self.contract),
            feed.pair,
            round_id,
            started_ms,
            feed.decimals,
            feed.description,
        )
        signed = await self._enclave().feed_round(
            facts, feed.source_set, key_id=self._key.key_id, key_tenant=PLATFORM_KEY_OWNER
        )
        result = signed.round
        if result is None:
            return RoundReport(feed.pair, "quorum_lost", detail=signed.refusal)
        last = (
            Published(from_fixed_point(latest.answer, feed.decimals), latest.updated_at_ms // 1000)
            if latest.round_id > 0
            else None
        )
        reason = publish_reason(result.answer, last, int(started.timestamp()), feed.policy)
        if reason is None:
            return RoundReport(feed.pair, "unchanged", result, latest.round_id)
        if signed.signature is None or signed.answer is None:
            return RoundReport(feed.pair, "rejected", result, detail=signed.refusal)
        call = ContractCall(
            self.contract, "submit", (feed.pair, round_id, signed.answer, started_ms, signed.signature)
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
