"""The enclave's own typed settings: exactly what the enclave process reads, and nothing of the host.

The enclave program imports nothing of the host side (see ``.importlinter``), so it does not use the
host's ``kernel.config.Settings``. The variables are the ones the host documents and sets for it, with
the same names (prefix ``NSL_``), read from the environment and, as the host does, from the TOML file
named by ``NSL_CONFIG_FILE`` (the environment wins); other ``NSL_*`` variables are ignored. This module
is the only place in the enclave that reads the environment.

The client tokens (``NSL_ENCLAVE_CLIENTS``, one per host process, see ``clients``) are a ``SecretStr``
without a default value. Without them a development or test enclave accepts the single
``NSL_ENCLAVE_TOKEN`` for every operation (logged as such); in production it refuses to start, as it
does with neither set (``main.build_server``). The sealing secret is
never configured: it comes from the platform (simulation files under the data directory, or Gramine's
``/dev/attestation``).
"""

from __future__ import annotations

import ipaddress
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "NSL_CONFIG_FILE"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class TeePlatform(StrEnum):
    SIMULATION = "simulation"
    GRAMINE_SGX = "gramine-sgx"


class EnclaveConfigurationError(Exception):
    """The enclave's configuration cannot be used as given; the message says why (never a secret)."""


class EnclaveSettings(BaseSettings):
    """Everything the enclave process is configured with (``NSL_DATA_DIR`` is ``data_dir``...)."""

    model_config = SettingsConfigDict(env_prefix="NSL_", extra="ignore", validate_default=True)

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".nsl")
    log_level: str = "INFO"

    # Platform
    tee_platform: TeePlatform = TeePlatform.SIMULATION
    #: simulation in production only when this says so
    tee_allow_simulation: bool = False
    gramine_attestation_dir: Path = Path("/dev/attestation")

    # RPC listener and its token
    #: Unix socket path; default ``<data_dir>/enclave.sock``
    enclave_socket: Path | None = None
    #: loopback "host:port" instead of the Unix socket (Gramine: host processes cannot reach an
    #: in-enclave Unix socket)
    enclave_tcp: str | None = None
    #: each client's token, JSON ``{"api": "...", "worker": "...", "cli": "..."}``; what each may call
    #: is fixed in ``enclave.clients``; no default
    enclave_clients: SecretStr | None = None
    #: one token that may call everything: only without NSL_ENCLAVE_CLIENTS, and never in production
    enclave_token: SecretStr | None = None

    # Key migration: the peers this enclave gives keys to and takes keys from
    #: measurements (MRENCLAVE hex); empty means its own measurement only (the same code)
    migration_allowed_measurements: list[str] = Field(default_factory=list)
    #: accept simulated enclaves as migration peers (never by default)
    migration_accept_simulation: bool = False
    #: simulated platform public keys (Ed25519, hex) of accepted migration peers
    migration_simulation_platform_keys: list[str] = Field(default_factory=list)

    # Key destruction
    #: ``destroy`` needs the key disabled at least this long before (enclave clock); at least the keys
    #: service's 7 days in production, shorter only for tests
    key_destruction_grace_seconds: float = Field(default=7 * 24 * 3600.0, ge=0)

    # Transactions the sender key signs (``sign_transaction``): bounds per transaction
    #: system fee at most this many GAS fractions (default 50 GAS)
    tx_max_system_fee: int = Field(default=50 * 10**8, ge=0)
    #: network fee at most this many GAS fractions (default 1 GAS)
    tx_max_network_fee: int = Field(default=10**8, ge=0)
    #: ``validUntilBlock`` at most this many blocks after the highest height the enclave was told
    tx_valid_until_window: int = Field(default=5760, ge=1, le=5760)

    # Transactions the EVM sender key signs (``evm_sign_transaction``): bounds per transaction
    #: gas limit at most this (default 2 000 000)
    evm_tx_max_gas: int = Field(default=2_000_000, ge=21_000)
    #: ``maxFeePerGas`` at most this many wei (default 500 gwei; with the gas bound, 1 GAS a transaction)
    evm_tx_max_fee_per_gas: int = Field(default=500 * 10**9, ge=1)

    # Oracle fetch (SSRF guard and TLS)
    #: IP addresses or CIDR networks let through despite the guard: a JSON list or comma-separated
    oracle_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: allow plain ``http://``
    oracle_allow_http: bool = False
    #: CA bundle (PEM) used instead of certifi's
    oracle_ca_file: Path | None = None

    # Confidential compute: the operator's maxima per run (a function asks for less), and runs at once
    compute_max_fuel: int = Field(default=200_000_000_000, ge=1_000_000)
    compute_max_memory_mb: int = Field(default=512, ge=32, le=4096)
    compute_max_wall_ms: int = Field(default=60_000, ge=100)
    compute_max_fetches: int = Field(default=20, ge=0, le=1000)
    compute_max_result_bytes: int = Field(default=1024 * 1024, ge=1)
    compute_concurrency: int = Field(default=2, ge=1, le=64)

    # Neo's native Oracle: the node(s) the enclave reads requests and designations from itself
    #: RPC URLs (a JSON list or comma-separated; the host's variable of the same name); without them,
    #: the local chain's node on ``NSL_NEO_LOCAL_RPC_PORT``, else the ``rpc_url`` of
    #: ``<data_dir>/network.json`` (development: the local chain ``nsl run`` starts)
    neo_rpc_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    neo_local_rpc_port: int = Field(default=0, ge=0, le=65535)

    # Cross-chain messages (``crosschain_sign``): the EVM chain the enclave reads itself (the host's
    # variables of the same names) and the registered message gateways
    #: EVM RPC URLs (a JSON list or comma-separated); without them, the ``neox`` entry of
    #: ``<data_dir>/network.json`` (development: the local Neo X ``nsl run`` starts)
    evm_rpc_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: the chain id every EVM node must answer (needed with ``evm_rpc_urls``)
    evm_chain_id: int | None = Field(default=None, ge=1, lt=2**63)
    #: blocks an EVM source event needs (its own included); N3 events: ``xmsg_n3_confirmations``
    evm_confirmations: int = Field(default=1, ge=1, le=1000)
    xmsg_n3_confirmations: int = Field(default=1, ge=1, le=1000)
    #: the message gateway on the EVM chain (``0x`` + 40 hex) and on N3 (its ``0x`` script hash); a chain
    #: without one is neither a source nor a destination the enclave signs for
    xmsg_evm_gateway: str | None = None
    xmsg_n3_gateway: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("enclave_tcp")
    @classmethod
    def _loopback_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or host.strip("[]") not in {"127.0.0.1", "::1", "localhost"}:
            raise ValueError("NSL_ENCLAVE_TCP must be a loopback host:port, e.g. 127.0.0.1:7443")
        return value

    @field_validator("migration_simulation_platform_keys")
    @classmethod
    def _hex_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            try:
                if len(bytes.fromhex(key)) != 32:
                    raise ValueError
            except ValueError:
                raise ValueError("simulation platform keys are 32-byte Ed25519 public keys in hex") from None
        return [k.lower() for k in value]

    @field_validator("oracle_ca_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("xmsg_evm_gateway", "xmsg_n3_gateway", mode="before")
    @classmethod
    def _gateway(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        try:
            if not text.startswith(("0x", "0X")) or len(bytes.fromhex(text[2:])) != 20:
                raise ValueError
        except ValueError:
            raise ValueError("a message gateway is 0x followed by 40 hex digits") from None
        return "0x" + text[2:].lower()

    @field_validator("oracle_allow_hosts", "neo_rpc_urls", "evm_rpc_urls", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # NSL_ORACLE_ALLOW_HOSTS=a,b or a JSON list
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [h.strip() for h in text.split(",") if h.strip()]
        return value

    @field_validator("oracle_allow_hosts")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"NSL_ORACLE_ALLOW_HOSTS: {entry!r} is not an IP address or CIDR network"
                ) from None
        return [entry.strip() for entry in value]

    @model_validator(mode="after")
    def _full_grace_in_production(self) -> EnclaveSettings:
        if self.env is Environment.PRODUCTION and self.key_destruction_grace_seconds < 7 * 24 * 3600:
            raise ValueError("NSL_KEY_DESTRUCTION_GRACE_SECONDS: at least 7 days (604800) in production")
        return self

    # Derived values -------------------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def effective_enclave_socket(self) -> Path:
        return self.enclave_socket or (self.data_dir / "enclave.sock")

    @property
    def enclave_tcp_address(self) -> tuple[str, int] | None:
        if not self.enclave_tcp:
            return None
        host, _, port = self.enclave_tcp.rpartition(":")
        return host.strip("[]"), int(port)


def load_enclave_settings(**overrides: Any) -> EnclaveSettings:
    """Read the enclave's settings; raise ``EnclaveConfigurationError`` if they are invalid."""
    try:
        return EnclaveSettings(**overrides)
    except ValueError as exc:
        raise EnclaveConfigurationError(str(exc)) from exc
