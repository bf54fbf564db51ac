"""Prometheus metrics of the chain machinery (``ChainObserver`` for the watcher, fulfiller and outbox)."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from neo_service_layer.kernel.chain.adapters.rpc import EndpointHealth

BLOCK_BUCKETS = (0, 1, 2, 3, 4, 5, 10, 20, 50, 100)
SECOND_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class ChainMetrics:
    def __init__(self, registry: CollectorRegistry, *, low_balance_gas: float | None = None) -> None:
        self.behind = Gauge(
            "nsl_chain_blocks_behind",
            "Blocks between the chain head and the watcher's cursor (last fully processed block).",
            ["service"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.requests = Counter(
            "nsl_chain_requests_total",
            "On-chain requests by service and outcome (seen, fulfilled, delivered, callback_failed, failed);"
            " each request counted once per outcome across workers.",
            ["service", "outcome"],
            registry=registry,
        )
        self.latency_blocks = Histogram(
            "nsl_chain_fulfilment_blocks",
            "Blocks from the request's block to the block that fulfilled it.",
            ["service"],
            buckets=BLOCK_BUCKETS,
            registry=registry,
        )
        self.latency_seconds = Histogram(
            "nsl_chain_fulfilment_seconds",
            "Seconds from the request's block timestamp to the fulfilling block's timestamp.",
            ["service"],
            buckets=SECOND_BUCKETS,
            registry=registry,
        )
        self.transactions = Counter(
            "nsl_chain_transactions_total",
            "Fulfilment transactions by outcome"
            " (accepted, known, rejected, resent_*, expired, faulted, lease_lost).",
            ["service", "outcome"],
            registry=registry,
        )
        self.dropped = Counter(
            "nsl_chain_events_dropped_total",
            "Contract events the watcher ignored, by reason (not_halted: emitted by a transaction that"
            " FAULTed, whose effects were rolled back).",
            ["service", "reason"],
            registry=registry,
        )
        self.sender_gas = Gauge(
            "nsl_chain_sender_gas_balance",
            "GAS held by the service's transaction-sender account (NaN until first read).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        # NaN, not 0, before the first successful read: an unreachable RPC is not an empty account
        self.sender_gas.set(math.nan)
        self.sender_gas_low = Gauge(
            "nsl_chain_sender_gas_low_threshold",
            "GAS below which the sender's balance is low (NSL_NEO_SENDER_LOW_BALANCE_GAS).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        if low_balance_gas is not None:
            self.sender_gas_low.set(low_balance_gas)
        self.feed_rounds = Counter(
            "nsl_feed_rounds_total",
            "Price feed rounds by pair and outcome (published_first, published_deviation,"
            " published_heartbeat, unchanged, quorum_lost, in_flight, rejected, error).",
            ["pair", "outcome"],
            registry=registry,
        )
        self.rpc_up = Gauge(
            "nsl_chain_rpc_endpoint_up",
            "1 when the RPC endpoint answered its last call, else 0.",
            ["endpoint"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )

    # ChainObserver ---------------------------------------------------------------------------

    def blocks_behind(self, service: str, blocks: int) -> None:
        self.behind.labels(service).set(max(blocks, 0))

    def request_outcome(self, service: str, outcome: str) -> None:
        self.requests.labels(service, outcome).inc()

    def fulfilment_latency(self, service: str, blocks: int, seconds: float | None) -> None:
        self.latency_blocks.labels(service).observe(blocks)
        if seconds is not None:
            self.latency_seconds.labels(service).observe(max(seconds, 0.0))

    def transaction_outcome(self, service: str, outcome: str) -> None:
        self.transactions.labels(service, outcome).inc()

    def events_dropped(self, service: str, reason: str, count: int) -> None:
        self.dropped.labels(service, reason).inc(count)

    def feed_round(self, pair: str, outcome: str) -> None:
        self.feed_rounds.labels(pair, outcome).inc()

    def endpoints(self, health: list[EndpointHealth]) -> None:
        for endpoint in health:
            self.rpc_up.labels(endpoint.url).set(1 if endpoint.healthy else 0)
