"""The e-mail channel's rules: which addresses a subscription may name, how its mail is titled and
identified, and which SMTP answers end a delivery for good.

A mail's ``Message-ID`` is derived from the (subscription, event) pair only, so every attempt of one
delivery (a retry, a replay, another worker after a lease ran out) carries the same id: a receiver or
its mail client recognises a resend as the same message.
"""

from __future__ import annotations

import re
from enum import StrEnum

#: the longest address (RFC 5321's path limit less the angle brackets)
MAX_ADDRESS_LENGTH = 254
#: a reasonable address: a dot-atom local part (at most 64 characters) and a DNS domain with at least
#: one dot (labels of letters, digits and inner hyphens); no quoted local parts, no IP literals, no spaces
#: or line breaks (nothing can be smuggled into a header)
ADDRESS_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
MAX_LOCAL_PART = 64
SUBJECT_PREFIX = "[Neo Service Layer]"
_ADDRESS = re.compile(ADDRESS_PATTERN)


class Stage(StrEnum):
    """Where in the SMTP conversation an attempt stopped."""

    CONNECT = "connect"
    #: EHLO, STARTTLS, AUTH: the operator's server or credentials
    SESSION = "session"
    #: MAIL FROM: the operator's sender address
    SENDER = "sender"
    #: RCPT TO: the subscription's address
    RECIPIENT = "recipient"
    #: DATA: this message
    DATA = "data"


def is_address(address: str) -> bool:
    """Whether ``address`` is one a subscription may send to."""
    if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(address):
        return False
    return len(address.rpartition("@")[0]) <= MAX_LOCAL_PART


def subject(event_type: str, event_id: int) -> str:
    return f"{SUBJECT_PREFIX} {event_type} #{event_id}"


def message_id(subscription_id: str, event_id: int, sender: str) -> str:
    """``<event.subscription@domain>``, the domain being the sender's: the same for every attempt."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{event_id}.{subscription_id}@{domain}>"


def is_permanent(stage: Stage, code: int | None) -> bool:
    """Whether the answer ends the delivery at once (dead letter): a 5xx reply to this recipient or to
    this message. A 4xx reply, no reply (refused, timed out, disconnected) and the server refusing the
    operator's session or sender (fixed by the operator, not the tenant) are retried."""
    if code is None or not 500 <= code < 600:
        return False
    return stage in (Stage.RECIPIENT, Stage.DATA)
