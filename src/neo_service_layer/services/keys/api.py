"""The keys service's public interface for other services.

- attestation reads a tenant's keys (``keys_uow_factory``, ``KeysUnitOfWorkFactory``, ``KeyState``,
  ``KeyNotFound``) to choose what an enclave report covers;
- backup's restore check reads ``managed_keys`` to tell usable keys from disabled or destroyed ones;
- oracle checks signatures of its answers with ``PublicKeyOperations`` (public keys only, no enclave).

Only the keys service's own modules are imported here, none of another service, so any service may
import this module at load time without a cycle.
"""

from __future__ import annotations

from neo_service_layer.services.keys.adapters.public_keys import PublicKeyOperations
from neo_service_layer.services.keys.adapters.tables import managed_keys
from neo_service_layer.services.keys.adapters.unit_of_work import keys_uow_factory
from neo_service_layer.services.keys.ports import KeysUnitOfWorkFactory
from neo_service_layer.services.keys.rules import KeyNotFound, KeyState

__all__ = [
    "KeyNotFound",
    "KeyState",
    "KeysUnitOfWorkFactory",
    "PublicKeyOperations",
    "keys_uow_factory",
    "managed_keys",
]
