"""API keys for machines: the entity, the ``nsl_<prefix>_<secret>`` format, and which scopes a key gets.

Only the standard library is imported here. A key acts in one tenant with an explicit subset of its
creator's scopes; only a keyed hash of the secret is stored, the prefix finds the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.identity.rules.access import ApiKeyId, Scope, ScopeCatalogue
from neo_service_layer.kernel.identity.rules.accounts import TenantId
from neo_service_layer.kernel.identity.rules.errors import ScopeNotHeld

API_KEY_PREFIX = "nsl_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: ApiKeyId
    tenant_id: TenantId
    prefix: str
    secret_hash: str
    name: str
    scopes: frozenset[Scope]
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    plan: str = field(default="default", compare=False)

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def parse_api_key(credential: str) -> tuple[str, str] | None:
    """``nsl_<prefix>_<secret>`` -> (prefix, secret); ``None`` when it is not shaped like that."""
    if not credential.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, secret = credential[len(API_KEY_PREFIX) :].partition("_")
    if not sep or not prefix.isalnum() or len(prefix) > 32 or not (16 <= len(secret) <= 128):
        return None
    return prefix, secret


def api_key_scopes(
    requested: Iterable[str], creator_scopes: frozenset[Scope], catalogue: ScopeCatalogue
) -> frozenset[Scope]:
    """The scopes of a new API key: non-empty, tenant scopes of ``catalogue`` and held by its creator.

    Raises:
        InvalidInput: empty or unknown scopes.
        ScopeNotHeld: a scope the creator does not hold itself.
    """
    wanted = frozenset(requested)
    if not wanted:
        raise InvalidInput("an API key needs at least one scope")
    unknown = wanted - catalogue.tenant_scopes
    if unknown:
        raise InvalidInput(f"not API key scopes: {', '.join(sorted(unknown))}")
    missing = wanted - creator_scopes
    if missing:
        raise ScopeNotHeld(f"you cannot grant scopes you do not hold: {', '.join(sorted(missing))}")
    return wanted
