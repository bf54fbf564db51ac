"""Cross-chain messages between Neo N3 and Neo X as the relayer tracks them, with why each is where it is."""

from __future__ import annotations

from datetime import datetime

from nsl_client.models.base import CamelModel


class MessageWhy(CamelModel):
    """Why a message is where it is: ``code`` for programs, ``text`` for people; ``stuck``: it will not
    move without someone acting."""

    code: str
    text: str
    stuck: bool


class CrosschainMessage(CamelModel):
    message_id: str
    #: chain ids as decimal text (an N3 network's id is beyond a signed 64-bit integer)
    src_chain: str
    dest_chain: str
    nonce: int
    sender: str
    receiver: str
    payload: str
    gas_limit: int
    fee: str
    src_block: int
    src_tx: str
    #: ``seen``, ``delivering``, ``executed``, ``failed`` (retryable by anyone), ``refused``
    status: str
    attempts: int
    deliver_tx: str | None
    dest_block: int | None
    dest_tx: str | None
    result: str | None
    #: the outcome's reason: the receiver's revert reason of a ``failed`` message, why it was ``refused``
    reason: str | None
    #: why the relayer last gave the message back (a paused direction, someone else carrying it);
    #: ``None`` once it moved on (and from a server older than the field)
    relay_note: str | None = None
    #: ``none``, ``due``, ``sending``, ``stored``
    receipt_status: str
    receipt_attempt: int
    receipt_tx: str | None
    receipt_block: int | None
    seen_at: datetime
    #: ``None`` once the message ran and its receipt is stored
    why: MessageWhy | None


class SenderMessages(CamelModel):
    """A sender's messages by nonce; ``next`` is the ``after`` of the next page."""

    items: list[CrosschainMessage]
    next: int | None


class RecentMessages(CamelModel):
    """Recent messages of every sender, newest first."""

    items: list[CrosschainMessage]
    #: pass as ``after`` for the next page (the route's ``cursor``); ``None`` on the last page
    next_cursor: str | None

    @property
    def cursor(self) -> str | None:
        return self.next_cursor
