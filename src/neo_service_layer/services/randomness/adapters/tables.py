"""Tables of the randomness service (SQLAlchemy Core, on the shared ``metadata``).

- ``randomness_requests``: per on-chain request (the pipeline's row in ``chain_requests``, same contract
  and request id), what it asked (``num_words``, ``seed``) and the answer last written to the outbox
  (``output``, ``proof``; ``NULL`` before the first). Public on-chain data: no row-level security.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, PrimaryKeyConstraint, String, Table

from neo_service_layer.kernel.db.tables import metadata

randomness_requests = Table(
    "randomness_requests",
    metadata,
    Column("contract", String(42), nullable=False),
    Column("request_id", BigInteger, nullable=False),
    Column("num_words", Integer, nullable=False),
    Column("seed", LargeBinary, nullable=False),
    Column("output", LargeBinary, nullable=True),
    Column("proof", LargeBinary, nullable=True),
    PrimaryKeyConstraint("contract", "request_id", name="pk_randomness_requests"),
)
