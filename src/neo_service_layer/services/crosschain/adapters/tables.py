"""The relaying service's table: every cross-chain message it has seen, and how far it got.

``crosschain_messages``: public on-chain data only (no RLS): keyed by the source chain's cross-chain id
(decimal text: an N3 network's id is 2^63 + its magic, beyond a signed 64-bit column) and the nonce.
Accounts are 20-byte hex (an N3 script hash as the NeoVM holds it). ``deliver_tx`` is the message's
``deliver`` in the outbox (``chain_outbox``, service ``crosschain``), ``receipt_tx`` its receipt's.
``reason`` is the outcome's (a failed message's revert reason, why it was refused), written by the watcher
and ``refuse`` only; ``relay_note`` is the relayer's latest "why I gave it back", cleared once the message
moves on (a delivery or receipt written, an execution, a refusal, the latest receipt stored).
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

crosschain_messages = Table(
    "crosschain_messages",
    metadata,
    Column("src_chain", String(24), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("dest_chain", String(24), nullable=False),
    Column("sender", String(40), nullable=False),
    Column("receiver", String(40), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("gas_limit", BigInteger, nullable=False),
    Column("fee", String(80), nullable=False),
    Column("src_block", BigInteger, nullable=False),
    Column("src_tx", String(66), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("deliver_tx", String(66), nullable=True),
    Column("dest_block", BigInteger, nullable=True),
    Column("dest_tx", String(66), nullable=True),
    Column("result", LargeBinary, nullable=True),
    Column("reason", Text, nullable=True),
    Column("relay_note", Text, nullable=True),
    Column("receipt_status", String(16), nullable=False),
    Column("receipt_attempt", Integer, nullable=False),
    Column("receipt_tx", String(66), nullable=True),
    Column("receipt_block", BigInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("src_chain", "nonce", name="pk_crosschain_messages"),
    Index("ix_crosschain_messages_sender", "src_chain", "sender", "nonce"),
    Index("ix_crosschain_messages_status", "dest_chain", "status"),
    Index("ix_crosschain_messages_receipt", "src_chain", "receipt_status"),
    Index("ix_crosschain_messages_seen", "created_at", "src_chain", "nonce"),
)
