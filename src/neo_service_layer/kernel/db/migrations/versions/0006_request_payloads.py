"""Request payloads move to their services' tables; ``chain_requests`` keeps only the pipeline's facts.

Revision ID: 0006_request_payloads
Revises: 0005_oracle
Create Date: 2026-12-03

``chain_requests`` had randomness-shaped columns every service used: ``num_words``, ``seed``, ``output``,
``proof``. They move, row by row and without loss, to

- ``randomness_requests``: ``num_words``, ``seed``, ``output``, ``proof`` as they were;
- ``oracle_requests``: ``url`` and ``filter`` decoded from ``seed`` (``u32le(len(url)) || url ||
  u32le(len(filter)) || filter``, UTF-8), ``result`` from ``output``, ``result_code`` and
  ``timestamp_ms`` from the 12-byte ``proof`` (``struct '<IQ'``);
- ``native_oracle_requests``: ``url`` and ``filter`` as for the oracle, ``result`` from ``output``, ``code``
  from the one-byte ``proof``.

An oracle row whose ``seed`` does not decode (a damaged row: the old worker marked such a request failed
when it claimed it) gets no payload row; the pipeline fails a request without one when it is claimed.
Rows of any other service stop the upgrade: there is no table to move them to. The downgrade encodes the
payloads back into the four columns (a request without a payload row gets ``num_words`` 0 and an empty
``seed``). The tables are named here, not imported: a migration stays as it was written.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006_request_payloads"
down_revision: str | None = "0005_oracle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("randomness_requests", "oracle_requests", "native_oracle_requests")
RANDOMNESS, ORACLE, NATIVE_ORACLE = "randomness", "oracle", "native-oracle"
PAGE = 1000

requests = sa.table(
    "chain_requests",
    sa.column("service", sa.String),
    sa.column("contract", sa.String),
    sa.column("request_id", sa.BigInteger),
    sa.column("num_words", sa.Integer),
    sa.column("seed", sa.LargeBinary),
    sa.column("output", sa.LargeBinary),
    sa.column("proof", sa.LargeBinary),
)
RANDOMNESS_COLUMNS = ("num_words", "seed", "output", "proof")
randomness_requests = sa.table(
    "randomness_requests",
    sa.column("contract", sa.String),
    sa.column("request_id", sa.BigInteger),
    sa.column("num_words", sa.Integer),
    sa.column("seed", sa.LargeBinary),
    sa.column("output", sa.LargeBinary),
    sa.column("proof", sa.LargeBinary),
)
oracle_requests = sa.table(
    "oracle_requests",
    sa.column("contract", sa.String),
    sa.column("request_id", sa.BigInteger),
    sa.column("url", sa.Text),
    sa.column("filter", sa.Text),
    sa.column("result_code", sa.Integer),
    sa.column("result", sa.LargeBinary),
    sa.column("timestamp_ms", sa.BigInteger),
)
native_oracle_requests = sa.table(
    "native_oracle_requests",
    sa.column("contract", sa.String),
    sa.column("request_id", sa.BigInteger),
    sa.column("url", sa.Text),
    sa.column("filter", sa.Text),
    sa.column("code", sa.Integer),
    sa.column("result", sa.LargeBinary),
)


def _app_role() -> str:
    from neo_service_layer.kernel.config import ConfigurationError, load_settings

    try:
        role = load_settings().db_app_role or "nsl_app"
    except ConfigurationError:
        role = "nsl_app"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"NSL_DB_APP_ROLE {role!r}: lowercase letters, digits and '_' only")
    return role


def _key_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("request_id", sa.BigInteger, nullable=False),
    ]


def decode_params(data: bytes) -> tuple[str, str] | None:
    """(url, filter) from an oracle request's old ``seed``; ``None`` when malformed."""
    try:
        (n,) = struct.unpack_from("<I", data, 0)
        url = data[4 : 4 + n]
        (m,) = struct.unpack_from("<I", data, 4 + n)
        filter_ = data[8 + n : 8 + n + m]
        if len(url) != n or len(filter_) != m or 8 + n + m != len(data):
            return None
        return url.decode(), filter_.decode()
    except (struct.error, UnicodeDecodeError):
        return None


def encode_params(url: str, filter_: str) -> bytes:
    raw_url, raw_filter = url.encode(), filter_.encode()
    return struct.pack("<I", len(raw_url)) + raw_url + struct.pack("<I", len(raw_filter)) + raw_filter


def _pages(bind: sa.Connection, query: sa.Select[Any], key: Sequence[sa.ColumnElement[Any]]) -> Iterator[Any]:
    """The rows of ``query`` in pages of ``PAGE``, by keyset on ``key`` (unique, in this order)."""
    last: tuple[Any, ...] | None = None
    while True:
        page = query.order_by(*key).limit(PAGE)
        if last is not None:
            page = page.where(sa.tuple_(*key) > sa.tuple_(*(sa.literal(v) for v in last)))
        rows = bind.execute(page).all()
        yield from rows
        if len(rows) < PAGE:
            return
        last = tuple(getattr(rows[-1], c.name) for c in key)


def _old_rows(bind: sa.Connection, service: str) -> Iterator[Any]:
    r = requests.c
    query = sa.select(r.contract, r.request_id, r.seed, r.output, r.proof).where(r.service == service)
    return _pages(bind, query, [r.contract, r.request_id])


def _execute_many(
    bind: sa.Connection, statement: sa.Executable, rows: Iterable[dict[str, Any] | None]
) -> None:
    """``statement`` for every row that is not ``None``, ``PAGE`` rows per ``executemany``."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        if row is not None:
            batch.append(row)
        if len(batch) == PAGE:
            bind.execute(statement, batch)
            batch = []
    if batch:
        bind.execute(statement, batch)


def _oracle_row(row: Any) -> dict[str, Any] | None:
    params = decode_params(bytes(row.seed))
    if params is None:
        return None
    proof = bytes(row.proof) if row.proof is not None else b""
    code, timestamp = struct.unpack("<IQ", proof) if len(proof) == 12 else (None, None)
    return {
        "contract": row.contract,
        "request_id": row.request_id,
        "url": params[0],
        "filter": params[1],
        "result_code": code,
        "result": row.output,
        "timestamp_ms": timestamp,
    }


def _native_row(row: Any) -> dict[str, Any] | None:
    params = decode_params(bytes(row.seed))
    if params is None:
        return None
    proof = bytes(row.proof) if row.proof is not None else b""
    return {
        "contract": row.contract,
        "request_id": row.request_id,
        "url": params[0],
        "filter": params[1],
        "code": proof[0] if len(proof) == 1 else None,
        "result": row.output,
    }


def upgrade() -> None:
    bind = op.get_bind()
    known = (RANDOMNESS, ORACLE, NATIVE_ORACLE)
    others = bind.execute(
        sa.select(requests.c.service).where(requests.c.service.not_in(known)).distinct()
    ).scalars()
    if unknown := sorted(others):
        raise RuntimeError(f"chain_requests has rows of {unknown}: no table to move their payloads to")
    op.create_table(
        "randomness_requests",
        *_key_columns(),
        sa.Column("num_words", sa.Integer, nullable=False),
        sa.Column("seed", sa.LargeBinary, nullable=False),
        sa.Column("output", sa.LargeBinary, nullable=True),
        sa.Column("proof", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("contract", "request_id", name="pk_randomness_requests"),
    )
    op.create_table(
        "oracle_requests",
        *_key_columns(),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("filter", sa.Text, nullable=False),
        sa.Column("result_code", sa.Integer, nullable=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("contract", "request_id", name="pk_oracle_requests"),
    )
    op.create_table(
        "native_oracle_requests",
        *_key_columns(),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("filter", sa.Text, nullable=True),
        sa.Column("code", sa.Integer, nullable=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("contract", "request_id", name="pk_native_oracle_requests"),
    )
    r = requests.c
    bind.execute(
        sa.insert(randomness_requests).from_select(
            ["contract", "request_id", *RANDOMNESS_COLUMNS],
            sa.select(r.contract, r.request_id, *(r[c] for c in RANDOMNESS_COLUMNS)).where(
                r.service == RANDOMNESS
            ),
        )
    )
    _execute_many(bind, sa.insert(oracle_requests), map(_oracle_row, _old_rows(bind, ORACLE)))
    _execute_many(bind, sa.insert(native_oracle_requests), map(_native_row, _old_rows(bind, NATIVE_ORACLE)))
    with op.batch_alter_table("chain_requests") as batch:
        for column in RANDOMNESS_COLUMNS:
            batch.drop_column(column)
    if bind.dialect.name == "postgresql":
        role = _app_role()
        op.execute(f"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(TABLES)} TO {role};
  END IF;
END $$;
""")  # noqa: S608 (the role name is validated by _app_role)


def _old_values(service: str, row: Any, seed: bytes, output: Any, proof: bytes | None) -> dict[str, Any]:
    return {
        "b_service": service,
        "b_contract": row.contract,
        "b_id": row.request_id,
        "b_seed": seed,
        "b_output": output,
        "b_proof": proof,
    }


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("chain_requests") as batch:
        batch.add_column(sa.Column("num_words", sa.Integer, nullable=True))
        batch.add_column(sa.Column("seed", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("output", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("proof", sa.LargeBinary, nullable=True))
    r, p = requests.c, randomness_requests.c
    mine = (p.contract == r.contract, p.request_id == r.request_id)
    bind.execute(
        sa.update(requests)
        .where(r.service == RANDOMNESS)
        .values({c: sa.select(p[c]).where(*mine).scalar_subquery() for c in RANDOMNESS_COLUMNS})
    )
    back = (
        sa.update(requests)
        .where(
            r.service == sa.bindparam("b_service"),
            r.contract == sa.bindparam("b_contract"),
            r.request_id == sa.bindparam("b_id"),
        )
        .values(
            num_words=0,
            seed=sa.bindparam("b_seed"),
            output=sa.bindparam("b_output"),
            proof=sa.bindparam("b_proof"),
        )
    )
    o = oracle_requests.c
    oracle_rows = _pages(bind, sa.select(oracle_requests), [o.contract, o.request_id])
    _execute_many(
        bind,
        back,
        (
            _old_values(
                ORACLE,
                row,
                encode_params(row.url, row.filter),
                row.result,
                struct.pack("<IQ", row.result_code, row.timestamp_ms)
                if row.result_code is not None and row.timestamp_ms is not None
                else None,
            )
            for row in oracle_rows
        ),
    )
    n = native_oracle_requests.c
    native_rows = _pages(bind, sa.select(native_oracle_requests), [n.contract, n.request_id])
    _execute_many(
        bind,
        back,
        (
            _old_values(
                NATIVE_ORACLE,
                row,
                encode_params(row.url, row.filter or ""),
                row.result,
                bytes([row.code]) if row.code is not None else None,
            )
            for row in native_rows
        ),
    )
    bind.execute(sa.update(requests).where(r.num_words.is_(None)).values(num_words=0))
    bind.execute(sa.update(requests).where(r.seed.is_(None)).values(seed=b""))
    with op.batch_alter_table("chain_requests") as batch:
        batch.alter_column("num_words", existing_type=sa.Integer, nullable=False)
        batch.alter_column("seed", existing_type=sa.LargeBinary, nullable=False)
    for table in reversed(TABLES):
        op.drop_table(table)
