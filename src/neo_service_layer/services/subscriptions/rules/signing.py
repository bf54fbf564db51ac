"""Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric ``v1``).

A message is signed over ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 keyed by the
base64-decoded part of the secret after ``whsec_``; ``webhook-signature`` holds one or more
space-separated ``v1,<base64 signature>`` (one per valid secret while a secret is being rotated).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
#: bytes of a new secret's key (the spec asks for 24 to 64)
SECRET_BYTES = 32
#: how far a receiver lets ``webhook-timestamp`` be from its clock (the spec's suggestion)
TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(ValueError):
    """A message whose headers do not verify."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise ValueError("a Standard Webhooks secret starts with whsec_")
    return base64.b64decode(secret[len(PREFIX) :], validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of the message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: one signature per secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_)


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
    }


def verify(secret: str, received: dict[str, str], body: bytes, now: int) -> None:
    """What a receiver does: raise ``InvalidSignature`` unless one ``v1`` signature matches under
    ``secret`` and the timestamp is within ``TOLERANCE_SECONDS`` of ``now``."""
    lowered = {k.lower(): v for k, v in received.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        given = lowered["webhook-signature"]
    except (KeyError, ValueError) as exc:
        raise InvalidSignature("missing or malformed webhook headers") from exc
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("timestamp outside the tolerance")
    expected = sign(secret, msg_id, timestamp, body)
    for candidate in given.split(" "):
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return
    raise InvalidSignature("no matching v1 signature")
