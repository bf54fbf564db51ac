"""What an e-mail delivery sends: the webhook's JSON object pretty-printed as the text/plain body, the
Standard Webhooks headers over exactly those bytes (so a receiver verifies a mail with the webhook
code), a subject naming the event, and a ``Message-ID`` that every attempt of the delivery shares."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import format_datetime

from neo_service_layer.services.subscriptions.ports import Mail, StoredEvent
from neo_service_layer.services.subscriptions.rules.mail import message_id, subject
from neo_service_layer.services.subscriptions.rules.signing import headers


def mail_body(webhook_body: bytes) -> bytes:
    """The webhook's JSON (``deliver.event_json``), indented by two spaces, ``\\n`` line endings and a
    final newline; ASCII (other characters as ``\\u`` escapes)."""
    return json.dumps(json.loads(webhook_body), indent=2).encode() + b"\n"


def compose(
    subscription_id: str,
    event: StoredEvent,
    webhook_body: bytes,
    to: str,
    sender: str,
    secrets_: list[str],
    now: datetime,
) -> Mail:
    """The mail of one attempt: signed at ``now`` with each of ``secrets_`` (current first)."""
    body = mail_body(webhook_body)
    signed = headers(secrets_, str(event.event_id), int(now.timestamp()), body)
    return Mail(
        to=to,
        headers={
            "Subject": subject(event.type, event.event_id),
            "Message-ID": message_id(subscription_id, event.event_id, sender),
            "Date": format_datetime(now),
            # RFC 3834: an automatic message (no auto-replies, no vacation notices back)
            "Auto-Submitted": "auto-generated",
            **signed,
        },
        body=body,
    )
