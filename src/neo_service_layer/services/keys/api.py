"""The keys service's public interface for other services.

Secrets and attestation records live in the keys service's tables, under its unit of work (one
transaction spans a key's metadata, a secret's versions and the audit entry); the services that keep
data there reach it only through this module.
"""

from __future__ import annotations

from neo_service_layer.services.keys.adapters.unit_of_work import keys_uow_factory
from neo_service_layer.services.keys.ports import KeysUnitOfWork, KeysUnitOfWorkFactory, RememberedSource

__all__ = ["KeysUnitOfWork", "KeysUnitOfWorkFactory", "RememberedSource", "keys_uow_factory"]
