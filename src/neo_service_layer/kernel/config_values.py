"""How a few setting values are read and shown: the key-encryption key that seals identity's secrets,
and URLs whose password must never be printed (``nsl config show``, logs)."""

from __future__ import annotations

import base64
import binascii
import ipaddress


def decode_kek(text: str) -> bytes:
    """A key-encryption key: 32 bytes as 64 hex characters or (url-safe) base64; ``ValueError`` if not."""
    text = text.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decoder(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            return raw
    raise ValueError("the KEK must be 32 bytes, as 64 hex characters or base64")


def mask_url_password(url: str) -> str:
    """Hide the password part of ``scheme://user:password@host/...``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':********' if colon else ''}@{host}"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1): traffic that never leaves the machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
