"""The services this installation runs: one line each, in the order they are opened.

A service that uses another's public interface comes after it (secrets before oracle; oracle before
feeds and native oracle). Adding a service is a new folder under ``services/`` plus one line here.
"""

from __future__ import annotations

from neo_service_layer.kernel.service_descriptor import ServiceDescriptor
from neo_service_layer.services.attestation.service import SERVICE as ATTESTATION
from neo_service_layer.services.automation.service import SERVICE as AUTOMATION
from neo_service_layer.services.backup.service import SERVICE as BACKUP
from neo_service_layer.services.compute.service import SERVICE as COMPUTE
from neo_service_layer.services.crosschain.service import SERVICE as CROSSCHAIN
from neo_service_layer.services.feeds.service import SERVICE as FEEDS
from neo_service_layer.services.keys.service import SERVICE as KEYS
from neo_service_layer.services.native_oracle.service import SERVICE as NATIVE_ORACLE
from neo_service_layer.services.oracle.service import SERVICE as ORACLE
from neo_service_layer.services.randomness.service import SERVICE as RANDOMNESS
from neo_service_layer.services.secrets.service import SERVICE as SECRETS
from neo_service_layer.services.subscriptions.service import SERVICE as SUBSCRIPTIONS

SERVICES: tuple[ServiceDescriptor, ...] = (
    KEYS,
    SECRETS,
    ATTESTATION,
    RANDOMNESS,
    ORACLE,
    NATIVE_ORACLE,
    FEEDS,
    AUTOMATION,
    COMPUTE,
    CROSSCHAIN,
    BACKUP,
    SUBSCRIPTIONS,
)
