"""The receiver's signature check that docs/events.md offers to copy works against our signer."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from neo_service_layer.services.subscriptions.rules.signing import headers, new_secret

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"


def test_the_documented_receiver_check_accepts_ours_and_refuses_others() -> None:
    match = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(match.group(1), namespace)  # the documentation's own snippet
    verify = namespace["verify"]
    old, new = new_secret(), new_secret()
    signed = headers([new, old], "42", int(time.time()), b'{"id":42}')
    verify(new, signed, b'{"id":42}')
    verify(old, signed, b'{"id":42}')
    with pytest.raises(ValueError, match="no valid signature"):
        verify(new_secret(), signed, b'{"id":42}')
    with pytest.raises(ValueError, match="no valid signature"):
        verify(new, signed, b'{"id":43}')
    stale = headers([new], "42", int(time.time()) - 600, b"{}")
    with pytest.raises(ValueError, match="timestamp"):
        verify(new, stale, b"{}")


def test_the_documented_v1a_check_accepts_the_enclave_format_and_refuses_others() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    namespace: dict[str, Any] = {}
    exec(next(b for b in blocks if "def verify_v1a" in b), namespace)
    verify_v1a = namespace["verify_v1a"]
    private = Ed25519PrivateKey.generate()
    public = "whpk_" + base64.b64encode(private.public_key().public_bytes_raw()).decode()
    sub = "sub_" + "ab" * 12
    body = json.dumps({"id": 42, "subscription": sub}).encode()
    stamp = str(int(time.time()))
    signature = base64.b64encode(private.sign(f"42.{stamp}.".encode() + body)).decode()
    sent = {"webhook-id": "42", "webhook-timestamp": stamp, "webhook-signature": f"v1,xyz v1a,{signature}"}
    verify_v1a(public, sub, sent, body)
    with pytest.raises(ValueError, match="another subscription"):
        verify_v1a(public, "sub_" + "cd" * 12, sent, body)
    with pytest.raises(InvalidSignature):
        verify_v1a(public, sub, sent, body.replace(b"42", b"43"))
    with pytest.raises(ValueError, match="no v1a"):
        verify_v1a(public, sub, {**sent, "webhook-signature": "v1,xyz"}, body)
