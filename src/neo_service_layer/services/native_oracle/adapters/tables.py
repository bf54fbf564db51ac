"""Tables of the native Oracle node (SQLAlchemy Core, on the shared ``metadata``).

- ``native_oracle_requests``: per native Oracle request (the pipeline's row in ``chain_requests``, same
  contract and request id), the URL and filter of its ``OracleRequest`` event and the response last
  written to the outbox (Neo's response code and the result; ``NULL`` before the first). Public on-chain
  data: no row-level security.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, PrimaryKeyConstraint, String, Table, Text

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
