"""Standard Webhooks ``v1a`` (Ed25519) messages the enclave signs, shared by the enclave (which checks
and signs) and the host (which sends). Standard library only.

The signed bytes are the specification's ``{webhook-id}.{webhook-timestamp}.{body}``. The enclave signs
one only if it is a webhook of *one subscription*: the body is a JSON object whose ``id`` is the
webhook id and whose ``subscription`` is the subscription named, and the timestamp is within
``TOLERANCE_SECONDS`` of the enclave's clock. So the platform's webhook key signs nothing else (no
transaction, no answer, no message of another shape), a signature made for one subscription does not
pass a receiver that checks ``subscription``, and none can be made for later use beyond the tolerance.
"""

from __future__ import annotations

import json
import re

#: how far the timestamp may be from the enclave's clock (the specification's receivers allow 5 min)
TOLERANCE_SECONDS = 300
#: the largest body signed
MAX_BODY_BYTES = 1 << 20
SUBSCRIPTION_ID = re.compile(r"^sub_[0-9a-f]{24}$")
MESSAGE_ID = re.compile(r"^[1-9][0-9]{0,17}$")
#: public keys are shown as ``whpk_`` + base64 (the specification's prefix)
PUBLIC_KEY_PREFIX = "whpk_"


class NotAWebhook(ValueError):
    """The message is not a fresh webhook of the named subscription."""


def signed_content(subscription: str, msg_id: str, timestamp: int, body: bytes, now: float) -> bytes:
    """The bytes to sign, after checking that they are a fresh webhook of ``subscription``."""
    if not SUBSCRIPTION_ID.match(subscription):
        raise NotAWebhook("subscription must be a subscription id")
    if not MESSAGE_ID.match(msg_id):
        raise NotAWebhook("the webhook id must be an event id")
    if abs(timestamp - now) > TOLERANCE_SECONDS:
        raise NotAWebhook(f"the timestamp must be within {TOLERANCE_SECONDS} s of the enclave's clock")
    if len(body) > MAX_BODY_BYTES:
        raise NotAWebhook(f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotAWebhook("the body must be JSON") from None
    if not isinstance(parsed, dict) or parsed.get("id") != int(msg_id):
        raise NotAWebhook("the body's id must be the webhook id")
    if parsed.get("subscription") != subscription:
        raise NotAWebhook("the body's subscription must be the one named")
    return f"{msg_id}.{timestamp}.".encode() + body
