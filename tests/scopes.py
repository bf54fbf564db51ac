"""The scope catalogue of the registered services, for tests that build identity use cases directly.

The composition root builds the same one (``bootstrap.scope_catalogue``) and hands it to the identity
parts; a test that builds ``AuthService`` or ``ApiKeyService`` itself passes ``CATALOGUE``.
"""

from __future__ import annotations

from neo_service_layer.bootstrap import scope_catalogue
from neo_service_layer.kernel.identity.rules.access import Scope, ScopeCatalogue

CATALOGUE: ScopeCatalogue = scope_catalogue()
#: every scope of the installation (what a superadmin holds)
ALL_SCOPES: frozenset[Scope] = CATALOGUE.all_scopes
#: the scopes a tenant role or an API key can hold (what an owner holds)
TENANT_SCOPES: frozenset[Scope] = CATALOGUE.tenant_scopes
