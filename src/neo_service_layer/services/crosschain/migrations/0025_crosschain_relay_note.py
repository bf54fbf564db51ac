"""``crosschain_messages.relay_note``: the relayer's latest "why I gave it back" note, apart from ``reason``
(the outcome: the receiver's revert reason of a ``failed`` message, or why it was ``refused``). Both
shared one column, and a failed message's receipt given back by the relayer lost its revert reason.

Existing rows: a ``seen``, ``delivering`` or ``executed`` message's ``reason`` can only be a relayer note
(the watcher writes none but a failure's, ``refuse`` only refuses a seen message), so it moves to the
note. A ``failed`` message keeps its reason unless it is one of the texts the relayer writes when it gives
a receipt back (the revert reason it replaced is gone); ``refused`` keeps its reason. The downgrade puts
a note back where no reason is left, as the one column held it.

Revision ID: 0025_crosschain_relay_note
Revises: 0024_crosschain_messages_seen
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_crosschain_relay_note"
down_revision: str | None = "0024_crosschain_messages_seen"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

messages = sa.table(
    "crosschain_messages",
    sa.column("status", sa.String),
    sa.column("reason", sa.Text),
    sa.column("relay_note", sa.Text),
)
#: the states whose ``reason`` only the relayer wrote
NOTE_ONLY = ("seen", "delivering", "executed")
#: how the relayer's notes on a receipt begin (``use_cases/deliver.py`` as of revision 0024), compared
#: case-sensitively on both databases
RECEIPT_NOTES = ("waiting: ", "receipt refused: ", "carried by someone else (", "no execution to carry back")


def _starts(prefix: str) -> sa.ColumnElement[bool]:
    return sa.func.substr(messages.c.reason, 1, len(prefix)) == prefix


def upgrade() -> None:
    op.add_column("crosschain_messages", sa.Column("relay_note", sa.Text, nullable=True))
    relayers = sa.or_(
        messages.c.status.in_(NOTE_ONLY),
        sa.and_(messages.c.status == "failed", sa.or_(*(_starts(p) for p in RECEIPT_NOTES))),
    )
    op.execute(
        messages.update()
        .where(messages.c.reason.is_not(None), relayers)
        .values(relay_note=messages.c.reason, reason=None)
    )


def downgrade() -> None:
    op.execute(
        messages.update()
        .where(messages.c.reason.is_(None), messages.c.relay_note.is_not(None))
        .values(reason=messages.c.relay_note)
    )
    # batch mode: SQLite rebuilds the table, PostgreSQL alters it in place (grants stay)
    with op.batch_alter_table("crosschain_messages") as batch:
        batch.drop_column("relay_note")
