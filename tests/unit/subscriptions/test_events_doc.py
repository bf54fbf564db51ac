"""The receiver's signature check that docs/events.md offers to copy works against our signer."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

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
