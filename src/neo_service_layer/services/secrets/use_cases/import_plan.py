"""What an import asks its source for and where each value goes: whole secrets under their own name,
and single fields of Vault KV v2 secrets (a map of fields) under a name of the tenant's choosing.

A Vault field is asked for as ``path#field``, the form the Vault adapter reads; a secret's own name can
never hold a ``#``, so the two kinds cannot be confused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.secrets.rules import check_secret_name

#: at most this many names, and this many fields, in one import
MAX_IMPORT_NAMES = 100
#: a field of a Vault KV v2 secret (the key in its map)
VAULT_FIELD = re.compile(r"[A-Za-z0-9_.@-]{1,100}")


@dataclass(frozen=True, slots=True)
class VaultField:
    """Field ``field`` of the Vault secret at ``path``, to be sealed as ``name``."""

    path: str
    field: str
    name: str


@dataclass(frozen=True, slots=True)
class ImportItem:
    """Read ``source_name`` from the source; seal the value as the secret ``name``."""

    source_name: str
    name: str


def import_plan(names: Sequence[str], fields: Sequence[VaultField]) -> list[ImportItem]:
    """The items in request order (names first), each secret named once; ``InvalidInput`` if not."""
    if not names and not fields:
        raise InvalidInput("names or fields: name at least one secret to import")
    if len(names) > MAX_IMPORT_NAMES or len(fields) > MAX_IMPORT_NAMES:
        raise InvalidInput(f"names, fields: at most {MAX_IMPORT_NAMES} each")
    items = [ImportItem(check_secret_name(name), name) for name in names]
    for field in fields:
        check_secret_name(field.path)
        if not VAULT_FIELD.fullmatch(field.field):
            raise InvalidInput("fields: a field is 1-100 letters, digits and _ . @ -")
        items.append(ImportItem(f"{field.path}#{field.field}", check_secret_name(field.name)))
    stored = [item.name for item in items]
    if len(set(stored)) != len(stored):
        raise InvalidInput("names, fields: each secret is named once across both")
    return items
