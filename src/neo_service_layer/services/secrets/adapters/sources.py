"""Build the ``SecretSource`` that a tenant's provider configuration describes."""

from __future__ import annotations

from typing import assert_never

from neo_service_layer.services.secrets.adapters.aws import AwsSecretSource
from neo_service_layer.services.secrets.adapters.azure import AzureSecretSource
from neo_service_layer.services.secrets.adapters.hashicorp_vault import VaultSecretSource
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AzureSourceConfig,
    SecretSource,
    SecretSourceConfig,
    VaultSourceConfig,
)


def build_secret_source(config: SecretSourceConfig) -> SecretSource:
    """Return a source for ``config``; no network traffic happens until its first call.

    Raises:
        ValueError: the configuration is incomplete (e.g. an Azure client secret without tenant id).
    """
    match config:
        case VaultSourceConfig():
            return VaultSecretSource(config)
        case AwsSourceConfig():
            return AwsSecretSource(config)
        case AzureSourceConfig():
            return AzureSecretSource(config)
        case _:
            assert_never(config)
