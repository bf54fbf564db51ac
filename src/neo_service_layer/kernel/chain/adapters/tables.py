"""Tables of the chain machinery (SQLAlchemy Core, on the shared ``metadata``).

- ``chain_cursors``: per watched contract, the last block whose events were all applied.
- ``chain_requests``: one row per on-chain request; the primary key (service, contract, request id) is
  the idempotency key. Status, block facts, lease and the link to the outbox transaction live here;
  what a request asked and was answered is in its service's own table (``adapters.payloads``).
- ``chain_outbox``: signed fulfilment transactions, written in the same database transaction that
  moves their requests to ``fulfilling`` and sent only after that commit (transactional outbox).
- ``chain_service_keys``: which enclave key plays which role (randomness ECDSA / BLS, transaction
  sender); the sealed records themselves are in ``key_sealed_records`` like every enclave key.

None of these tables is tenant data: on-chain requests are public, so there is no row-level security.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from neo_service_layer.kernel.db.tables import metadata


def _ts(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


chain_cursors = Table(
    "chain_cursors",
    metadata,
    Column("name", String(128), nullable=False),
    Column("block_index", BigInteger, nullable=False),
    _ts("updated_at"),
    PrimaryKeyConstraint("name", name="pk_chain_cursors"),
)

chain_requests = Table(
    "chain_requests",
    metadata,
    Column("service", String(32), nullable=False),
    Column("contract", String(42), nullable=False),
    Column("request_id", BigInteger, nullable=False),
    Column("consumer", String(42), nullable=False),
    Column("request_block", BigInteger, nullable=False),
    Column("request_tx", String(66), nullable=False),
    _ts("request_time", True),
    _ts("seen_at"),
    Column("status", String(24), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(64), nullable=True),
    _ts("lease_until", True),
    Column("tx_hash", String(66), nullable=True),
    Column("with_delivery", Boolean, nullable=True),
    Column("fulfilled_block", BigInteger, nullable=True),
    Column("fulfilled_tx", String(66), nullable=True),
    _ts("fulfilled_time", True),
    Column("delivered_block", BigInteger, nullable=True),
    Column("failure_reason", Text, nullable=True),
    Column("callback_failure", Text, nullable=True),
    # fulfilment transactions of this request included but FAULTed on chain (expiries do not count)
    Column("chain_faults", Integer, nullable=False, default=0, server_default="0"),
    _ts("updated_at"),
    PrimaryKeyConstraint("service", "contract", "request_id", name="pk_chain_requests"),
    Index("ix_chain_requests_status", "status"),
    Index("ix_chain_requests_tx_hash", "tx_hash"),
)

chain_outbox = Table(
    "chain_outbox",
    metadata,
    Column("tx_hash", String(66), nullable=False),
    Column("service", String(32), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("valid_until_block", BigInteger, nullable=False),
    Column("system_fee", BigInteger, nullable=False),
    Column("network_fee", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending | included | expired | faulted
    Column("send_count", Integer, nullable=False, default=0),
    _ts("created_at"),
    _ts("last_sent_at", True),
    Column("included_block", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    PrimaryKeyConstraint("tx_hash", name="pk_chain_outbox"),
    Index("ix_chain_outbox_status", "status"),
)

chain_service_keys = Table(
    "chain_service_keys",
    metadata,
    Column("role", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    _ts("created_at"),
    PrimaryKeyConstraint("role", name="pk_chain_service_keys"),
)

CHAIN_TABLES = ("chain_cursors", "chain_requests", "chain_outbox", "chain_service_keys")
