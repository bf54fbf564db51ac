"""The on-chain request source: a subscription that watches a consumer contract's requests.

``{"consumer": "0x<40 hex>", "service": "randomness"}`` (``service`` optional: every service) makes
the chain pipeline publish ``request.*`` events for the tenant when a request of that consumer is seen,
fulfilled, delivered to its callback, or fails (``kernel.events.watches``): in the transaction that
moves the request. The relay and the stream then give such an event to a subscription whose filter
matches its consumer and service; a subscription without a request filter gets them when a pattern
names them (``request.*``, ``*``).

Requests are public chain facts (any tenant may read one by id): watching a consumer reveals nothing
a tenant could not read from the chain or the request API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.events.rules import REQUEST_TYPES
from neo_service_layer.services.subscriptions.rules.matching import matches

#: the services whose requests go through the chain pipeline (``chain_requests.service``)
REQUEST_SERVICES: tuple[str, ...] = ("randomness", "oracle", "native-oracle", "compute", "automation")
_SCRIPT_HASH = re.compile(r"^0x[0-9a-fA-F]{40}$")


class BadRequestFilter(InvalidInput):
    code = "invalid-request-filter"


def request_filter(raw: Mapping[str, object], types: Sequence[str]) -> str:
    """The validated filter as stored (JSON, the consumer in lowercase as the pipeline stores it);
    every type pattern must name request events only."""
    for pattern in types:
        if pattern != "request.*" and pattern not in REQUEST_TYPES:
            raise BadRequestFilter(
                f"a request filter needs request.* or request event types, not {pattern!r}"
            )
    consumer = raw.get("consumer")
    if not isinstance(consumer, str) or not _SCRIPT_HASH.match(consumer):
        raise BadRequestFilter("consumer must be a script hash: 0x and 40 hex digits")
    service = raw.get("service")
    if service is not None and service not in REQUEST_SERVICES:
        raise BadRequestFilter(f"service must be one of {', '.join(REQUEST_SERVICES)}")
    return filter_of(consumer.lower(), service if isinstance(service, str) else None)


def filter_of(consumer: str, service: str | None) -> str:
    """The stored form (keys sorted: it starts with ``{"consumer"``, a chain filter's with
    ``{"contract"``)."""
    return json.dumps({"consumer": consumer, "service": service}, sort_keys=True)


def is_request_filter(stored: str) -> bool:
    """Whether a stored source filter (this module's or a chain filter) is a request filter."""
    return stored.startswith('{"consumer"')


def watched(stored: str) -> tuple[str, str | None]:
    """(consumer, service) of a stored filter."""
    raw = json.loads(stored)
    return str(raw["consumer"]), raw.get("service")


def request_matches(types: Sequence[str], stored: str, event_type: str, data: str) -> bool:
    """Whether a request-filtered subscription gets an event: a request event of its types whose
    consumer (and service, if the filter names one) is the watched one."""
    if event_type not in REQUEST_TYPES or not matches(types, event_type):
        return False
    try:
        body = json.loads(data)
        consumer, service = watched(stored)
        return str(body["consumer"]).lower() == consumer and (service is None or body["service"] == service)
    except (ValueError, KeyError, TypeError):
        return False
