"""The enclave's ``feed_round`` op: fetch every source of a feed behind the guard, aggregate the round and
sign the V2 round message (``wire/feeds.py``) it builds itself.

Wire arguments::

    {"facts": FeedRoundFacts.to_dict(), "sources": FeedSources.to_dict(),
     "key_id": str, "key_tenant": str, "key_version": int | null}

Result: ``FeedRound.to_dict()``.

The host passes the feed's definition (sources, quorum, outlier distance), the network magic, the feed
contract, the round id and its start; the enclave fetches each source with its own ``Fetcher`` (SSRF guard,
limits) at the same time, reads one decimal number through the source's JSONPath, aggregates with the
feed rules (``wire/feed_aggregation.py``) and signs a message bound to all of them and to the digest of
the sources. A round with too few agreeing sources or a non-positive answer is refused: nothing is signed
and the per-source values come back with the reason. A start further than ``START_TOLERANCE_MS`` from the
enclave's clock is refused, so the host cannot date a round. The host chooses nothing the contract
accepts but *whether* and *when* to submit; the contract checks the sources digest the owner set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from neo_service_layer.enclave.fetch import Fetcher, FetchRequest
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.oracle_filter import apply_filter
from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.feed_aggregation import (
    QuorumNotMet,
    Round,
    aggregate,
    parse_value,
    to_fixed_point,
)
from neo_service_layer.enclave.wire.feeds import (
    SOURCE_TIMEOUT_SECONDS,
    START_TOLERANCE_MS,
    FeedRound,
    FeedRoundFacts,
    FeedSource,
    FeedSources,
    round_message,
)
from neo_service_layer.enclave.wire.keys import InvalidKeyRequest, KeyKind, Purpose, SignatureFormat
from neo_service_layer.enclave.wire.oracle import MAX_RESPONSE_BYTES, MAX_RESULT_BYTES, ResultCode
from neo_service_layer.enclave.wire.protocol import Args

log = logging.getLogger(__name__)

#: the contract stores i128 answers
_MAX_ANSWER = 2**127


def value_of(result: bytes) -> Decimal:
    """A filtered result as one decimal: ``1.5`` or ``"1.5"``; ``InvalidInput`` otherwise."""
    try:
        parsed = json.loads(result, parse_float=str, parse_int=str)
    except ValueError:
        raise InvalidInput("not JSON") from None
    if not isinstance(parsed, str):
        raise InvalidInput("not a single number")
    return parse_value(parsed)


class FeedRoundOp:
    """Runs ``feed_round``; the fetches are awaited, so other requests are served meanwhile."""

    def __init__(self, keys: KeyStore, fetcher: Fetcher, clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._fetcher = fetcher
        self._clock = clock

    async def __call__(self, args: Args) -> dict[str, Any]:
        try:
            facts = FeedRoundFacts.from_dict(args.mapping("facts"))
            sources = FeedSources.from_dict(args.mapping("sources"), facts.decimals)
        except InvalidInput as exc:
            raise InvalidKeyRequest(str(exc)) from None
        key_id, key_tenant = args.text("key_id"), args.text("key_tenant")
        if abs(facts.started_at_ms - int(self._clock() * 1000)) > START_TOLERANCE_MS:
            raise InvalidKeyRequest("the round's start is too far from the enclave's clock")
        info = self._keys.info(key_id, args.opt_integer("key_version"))  # fail before fetching
        if info.kind is not KeyKind.SECP256R1:
            raise InvalidKeyRequest("the feed key must be a secp256r1 key")

        values = await asyncio.gather(*(self._value(source) for source in sources.sources))
        named = tuple((s.name, v) for s, v in zip(sources.sources, values, strict=True))
        digest = sources.digest()
        key = (info.key_id, info.version, info.public_key)

        def refused(reason: str, aggregated: Round | None = None) -> dict[str, Any]:
            log.info("feed round refused", extra={"pair": facts.pair, "round_id": facts.round_id})
            unsigned = FeedRound(facts, digest, named, aggregated, None, None, reason, *key)
            return unsigned.to_dict()

        try:
            round_ = aggregate(dict(named), sources.rules)
        except QuorumNotMet as exc:
            return refused(str(exc))
        answer = to_fixed_point(round_.answer, facts.decimals)
        if not 0 < answer < _MAX_ANSWER:
            return refused("the contract accepts positive answers below 2^127 only", round_)
        (signature,) = self._keys.sign_for_operation(
            key_id,
            [round_message(facts, digest, answer)],
            tenant=key_tenant,
            purpose=Purpose.ORACLE,
            fmt=SignatureFormat.ECDSA_SHA256,
            version=info.version,
        )
        log.info("feed round signed", extra={"pair": facts.pair, "round_id": facts.round_id})
        return FeedRound(facts, digest, named, round_, answer, signature, "", *key).to_dict()

    async def _value(self, source: FeedSource) -> Decimal | None:
        """The source's number, or ``None`` when it fails, answers an error or no single number."""
        request = FetchRequest(
            method="GET",
            url=source.url,
            max_response_bytes=MAX_RESPONSE_BYTES,
            timeout=SOURCE_TIMEOUT_SECONDS,
        )
        fetched = await self._fetcher.fetch(request)
        if fetched.code is not ResultCode.SUCCESS:
            return None
        filtered = apply_filter(fetched.body, fetched.content_type, source.path, MAX_RESULT_BYTES)
        if filtered.code is not ResultCode.SUCCESS:
            return None
        try:
            return value_of(filtered.result)
        except InvalidInput:
            return None
