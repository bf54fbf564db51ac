"""Cross-chain messages: one by id, a sender's by nonce, and recent ones of every sender."""

from __future__ import annotations

from nsl_client.calls import Call, parser, register
from nsl_client.models.crosschain import CrosschainMessage, RecentMessages, SenderMessages

GET_MESSAGE = register(
    "get_crosschain_message", "GET", "/api/v1/crosschain/messages/{message_id}", CrosschainMessage
)
SENDER_MESSAGES = register("sender_crosschain_messages", "GET", "/api/v1/crosschain/messages", SenderMessages)
RECENT_MESSAGES = register("recent_crosschain_messages", "GET", "/api/v1/crosschain/recent", RecentMessages)


def get_crosschain_message(message_id: str) -> Call[CrosschainMessage]:
    """One message by its id, ``<source chain id>-<nonce>``, with why it is where it is."""
    return GET_MESSAGE.call(parser(CrosschainMessage), path={"message_id": message_id})


def sender_crosschain_messages(
    chain: int | str, sender: str, *, after: int | None = None, limit: int | None = None
) -> Call[SenderMessages]:
    """A sender's messages from chain ``chain`` (its cross-chain id) by nonce, after nonce ``after``."""
    params = {"chain": str(chain), "sender": sender, "after": after, "limit": limit}
    return SENDER_MESSAGES.call(parser(SenderMessages), params=params)


def recent_crosschain_messages(
    *,
    after: str | None = None,
    status: str | None = None,
    source: int | str | None = None,
    destination: int | str | None = None,
    limit: int | None = None,
) -> Call[RecentMessages]:
    """Recent messages of every sender, newest first (``after``: the previous page's cursor), optionally
    of one status, from one chain or to one; ``Client.iterate(recent_crosschain_messages)`` walks them."""
    params = {
        "cursor": after,
        "status": status,
        "source": None if source is None else str(source),
        "destination": None if destination is None else str(destination),
        "limit": limit,
    }
    return RECENT_MESSAGES.call(parser(RecentMessages), params=params)
