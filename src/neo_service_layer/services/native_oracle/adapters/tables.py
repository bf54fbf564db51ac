"""Tables of the native Oracle node (SQLAlchemy Core, on the shared ``metadata``).

- ``native_oracle_requests``: per native Oracle request (the pipeline's row in ``chain_requests``, same
  contract and request id), the URL and filter of its ``OracleRequest`` event and the response last
  written to the outbox (Neo's response code and the result; ``NULL`` before the first). Public on-chain
  data: no row-level security.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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

native_oracle_requests = Table(
    "native_oracle_requests",
    metadata,
    Column("contract", String(42), nullable=False),
    Column("request_id", BigInteger, nullable=False),
    Column("url", Text, nullable=False),
    Column("filter", Text, nullable=True),
    Column("code", Integer, nullable=True),
    Column("result", LargeBinary, nullable=True),
    PrimaryKeyConstraint("contract", "request_id", name="pk_native_oracle_requests"),
)

#: ``submitoracleresponse`` signatures of designated nodes, per request (the message signature was
#: verified; the transaction signature is checked against this node's own transaction when combined).
#: The latest ``MAX_SIGNATURES_PER_KEY`` of a key per request (a main and a backup response, re-sent).
native_oracle_signatures = Table(
    "native_oracle_signatures",
    metadata,
    Column("request_id", BigInteger, nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("request_id", "public_key", "signature", name="pk_native_oracle_signatures"),
    Index("ix_native_oracle_signatures_received_at", "received_at"),
)

#: the response transaction this node's enclave built and signed for a request that needs several
#: signatures, waiting for the other designated nodes' (removed once it is sent complete)
native_oracle_pending = Table(
    "native_oracle_pending",
    metadata,
    Column("request_id", BigInteger, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("valid_until_block", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("request_id", name="pk_native_oracle_pending"),
    Index("ix_native_oracle_pending_updated_at", "updated_at"),
)
