"""Seal labels of tenant secrets: shared by the host (which seals a value) and the enclave (which
unseals it for an oracle fetch), so both derive the same label from a secret's name and version.

Only the standard library is imported here.
"""

from __future__ import annotations

import json
import re

from neo_service_layer.enclave.wire.errors import InvalidInput

#: 1-100 characters, no colon (labels use it), not ending in ``/rotate`` or ``/versions`` and not
#: ``import`` or ``sources`` (the API's ``/secrets/{name}/rotate``, ``/secrets/{name}/versions``,
#: ``/secrets/import`` and ``/secrets/sources`` would be ambiguous); also a JSON Schema pattern
SECRET_NAME_PATTERN = r"^(?!(import|sources)$)(?!.*/(rotate|versions)$)[A-Za-z0-9][A-Za-z0-9_.@/-]{0,99}$"  # noqa: S105 - a pattern
SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
#: what a host name in ``allowed_hosts`` looks like before it is made canonical (ASCII; IDNA-encode first)
HOST_PATTERN = (
    r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class InvalidSecretInput(InvalidInput):
    code = "invalid-secret-input"


def check_secret_name(name: str) -> str:
    if not SECRET_NAME.fullmatch(name):
        raise InvalidSecretInput(
            "name: 1-100 characters of letters, digits and _ . @ / - (no colon), "
            "not ending in /rotate or /versions, not import or sources"
        )
    return name


def seal_label(name: str, version: int) -> str:
    """The enclave seal label binding a value to its secret name and version."""
    return f"secret:{check_secret_name(name)}:v{version}"


# Pinned hosts ----------------------------------------------------------------------------------------
#
# What the enclave seals for a secret version is not the bare value but an envelope that also carries
# the hosts the value may be sent to:  MAGIC || u16be(len(hosts_json)) || hosts_json || value
# (hosts_json: the sorted host names as a compact JSON list). The enclave seals and unseals it as one
# authenticated blob under the version's label, so the list cannot be changed in storage without the
# unseal failing. A blob without the magic (sealed before pinning existed) has no pinned host.

SEALED_MAGIC = b"NSL-SECRET-V2\x00"
MAX_ALLOWED_HOSTS = 16
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_allowed_host(host: str) -> str:
    """A host name or IPv4 literal, canonical: lower case, IDNA-encoded, no port, no dot at the end."""
    text = host.strip().lower()
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        raise InvalidSecretInput(f"allowed_hosts: {host!r} is not a host name") from None
    if not 1 <= len(text) <= 253 or not all(_HOST_LABEL.fullmatch(part) for part in text.split(".")):
        raise InvalidSecretInput(f"allowed_hosts: {host!r} is not a host name (no scheme, port or path)")
    return text


def check_allowed_hosts(hosts: object) -> tuple[str, ...]:
    """The pinned hosts, canonical, de-duplicated and sorted."""
    if not isinstance(hosts, list | tuple | frozenset | set):
        raise InvalidSecretInput("allowed_hosts: a list of host names")
    if len(hosts) > MAX_ALLOWED_HOSTS:
        raise InvalidSecretInput(f"allowed_hosts: at most {MAX_ALLOWED_HOSTS} hosts")
    checked = set()
    for host in hosts:
        if not isinstance(host, str):
            raise InvalidSecretInput("allowed_hosts: a list of host names")
        checked.add(check_allowed_host(host))
    return tuple(sorted(checked))


def seal_payload(value: bytes, allowed_hosts: tuple[str, ...]) -> bytes:
    """The plaintext the enclave seals for one version: the pinned hosts bound to the value."""
    hosts = json.dumps(list(check_allowed_hosts(allowed_hosts)), separators=(",", ":")).encode()
    return SEALED_MAGIC + len(hosts).to_bytes(2, "big") + hosts + value


def open_payload(plaintext: bytes) -> tuple[tuple[str, ...], bytes]:
    """(pinned hosts, value) of an unsealed plaintext; a legacy blob has no pinned host."""
    if not plaintext.startswith(SEALED_MAGIC):
        return (), plaintext
    rest = plaintext[len(SEALED_MAGIC) :]
    size = int.from_bytes(rest[:2], "big")
    try:
        hosts = json.loads(rest[2 : 2 + size])
        checked = check_allowed_hosts(hosts)
    except (ValueError, InvalidSecretInput):
        raise InvalidSecretInput("the sealed secret's host list cannot be read") from None
    return checked, rest[2 + size :]
