"""Build the ``SecretSource`` that a tenant's provider configuration describes.

Before a source is built its configuration is checked: credentials must be the tenant's own (no SDK
default chain, environment, metadata service or managed identity is ever used), and every address the
tenant gives passes the SSRF guard of ``adapters.url_guard``. Refusals are ``InvalidInput`` (422)
naming the field. The source then connects only to the addresses that check resolved
(``adapters.pinned_addresses``), so a DNS answer changed after the check (rebinding) is never used.
"""

from __future__ import annotations

from typing import assert_never

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.services.secrets.adapters.aws import AwsSecretSource
from neo_service_layer.services.secrets.adapters.azure import AzureSecretSource
from neo_service_layer.services.secrets.adapters.hashicorp_vault import VaultSecretSource
from neo_service_layer.services.secrets.adapters.pinned_addresses import AddressPins
from neo_service_layer.services.secrets.adapters.url_guard import Resolver, SourceUrlPolicy, resolve_host
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AzureSourceConfig,
    SecretSource,
    SecretSourceConfig,
    VaultSourceConfig,
)


class InvalidSourceConfig(InvalidInput):
    code = "invalid-source-config"


def check_source_config(
    config: SecretSourceConfig,
    policy: SourceUrlPolicy,
    resolve: Resolver | None = None,
    pins: AddressPins | None = None,
) -> None:
    """Refuse a configuration without the tenant's own credentials or with a guarded address; the
    addresses each checked host resolved to are kept in ``pins``."""
    pins = pins if pins is not None else AddressPins(policy, resolve or resolve_host)
    match config:
        case VaultSourceConfig():
            pins.check(config.url, "source.url")
            if config.ca_file is not None:
                raise InvalidSourceConfig("source.ca_file: a file of the platform cannot be chosen")
        case AwsSourceConfig():
            if config.credentials is None:
                raise InvalidSourceConfig("source.credentials: the tenant's own access key is required")
            if not config.credentials.access_key_id or not config.credentials.secret_access_key.reveal():
                raise InvalidSourceConfig("source.credentials: access_key_id and secret_access_key")
            if config.endpoint_url is not None:
                pins.check(config.endpoint_url, "source.endpoint_url")
        case AzureSourceConfig():
            for field in ("tenant_id", "client_id", "client_secret"):
                if not getattr(config, field):
                    raise InvalidSourceConfig(
                        f"source.{field}: required (a service principal of the tenant's own)"
                    )
            pins.check(config.vault_url, "source.vault_url")
        case _:
            assert_never(config)


def build_secret_source(
    config: SecretSourceConfig, policy: SourceUrlPolicy | None = None, resolve: Resolver | None = None
) -> SecretSource:
    """Return a source for ``config`` after checking it; no traffic to the provider happens until its
    first call (the check resolves the host names).

    ``policy`` lets operators allow addresses (tests: ``127.0.0.1`` over ``http``); the default
    allows public ``https`` addresses only.

    Raises:
        InvalidInput: missing credentials or an address the SSRF guard refuses.
    """
    policy = policy or SourceUrlPolicy()
    pins = AddressPins(policy, resolve or resolve_host)
    check_source_config(config, policy, resolve, pins)
    match config:
        case VaultSourceConfig():
            return VaultSecretSource(config, pins=pins)
        case AwsSourceConfig():
            return AwsSecretSource(config, pins=pins)
        case AzureSourceConfig():
            return AzureSecretSource(config, pins=pins)
        case _:
            assert_never(config)
