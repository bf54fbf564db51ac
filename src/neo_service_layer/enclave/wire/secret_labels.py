"""Seal labels of tenant secrets: shared by the host (which seals a value) and the enclave (which
unseals it for an oracle fetch), so both derive the same label from a secret's name and version.

Only the standard library is imported here.
"""

from __future__ import annotations

import re

from neo_service_layer.enclave.wire.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@/-]{0,99}$")


class InvalidSecretInput(InvalidInput):
    code = "invalid-secret-input"


def check_secret_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidSecretInput("name: 1-100 characters of letters, digits and _ . @ / - (no colon)")
    return name


def seal_label(name: str, version: int) -> str:
    """The enclave seal label binding a value to its secret name and version."""
    return f"secret:{check_secret_name(name)}:v{version}"
