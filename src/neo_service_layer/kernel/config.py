"""Typed settings for every process of the service layer.

Values come from environment variables prefixed ``NSL_`` and, optionally, a TOML file named by
``NSL_CONFIG_FILE`` (environment wins over the file). Secret values are wrapped in ``SecretStr`` so
that ``repr``, logs and ``nsl config show`` never print them; nothing secret has a default.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from neo_service_layer.kernel.config_chains import ChainSettings
from neo_service_layer.kernel.config_services import ServiceSettings
from neo_service_layer.kernel.config_values import decode_kek, is_loopback, mask_url_password


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class TeePlatform(StrEnum):
    SIMULATION = "simulation"
    GRAMINE_SGX = "gramine-sgx"


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


#: requests per window by route group, per principal and per client IP, unless configured otherwise
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "general": "1000/minute",
    "key_management": "100/minute",
    "auth": "10/minute",
}


class Settings(BaseSettings, ChainSettings, ServiceSettings):
    """All configuration, flat, with the ``NSL_`` prefix (``data_dir`` is ``NSL_DATA_DIR``); the chains'
    and the services' settings are declared in ``config_chains`` and ``config_services``."""

    model_config = SettingsConfigDict(env_prefix="NSL_", extra="ignore", validate_default=True)

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".nsl")

    # HTTP
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    trusted_proxies: list[str] = Field(default_factory=list)
    #: processes ``nsl serve`` runs the API in; 0: one per core available to it when Redis is
    #: configured (rate limits and cache invalidation are shared through it), else 1
    http_workers: int = Field(default=0, ge=0, le=64)

    # Worker
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # Persistence
    database_url: SecretStr | None = None
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_app_role: str | None = None
    auto_migrate: bool | None = None

    # Cache / rate limiting
    redis_url: SecretStr | None = None
    rate_limit_enabled: bool = True
    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = "moving-window"
    #: per authenticated principal (user or API key), by route group: general, key_management, auth
    rate_limits: dict[str, str] = Field(default_factory=dict)
    #: per client IP, by route group
    rate_limits_per_ip: dict[str, str] = Field(default_factory=dict)
    #: per tenant plan, overrides of ``rate_limits``: {"enterprise": {"general": "10000/minute"}}
    rate_limit_plans: dict[str, dict[str, str]] = Field(default_factory=dict)
    rate_limit_namespace: str = "nsl:rl"
    #: cache of checked credentials (API keys, access tokens); see docs/identity.md "Principal cache"
    principal_cache_enabled: bool = True
    #: how long a checked credential is served from memory with Redis (invalidations reach every
    #: replica through pub/sub); without Redis at most 1 s, which bounds what another process missed
    principal_cache_ttl_seconds: float = Field(default=30.0, gt=0)
    principal_cache_size: int = Field(default=10_000, ge=1)
    cache_invalidation_channel: str = "nsl:cache:invalidate"
    #: cache of each tenant's key metadata as the API shows it (list and one key; signing and the
    #: lifecycle always read the database); same TTL rules as the principal cache
    key_cache_enabled: bool = True
    key_cache_ttl_seconds: float = Field(default=30.0, gt=0)
    key_cache_size: int = Field(default=10_000, ge=1)
    #: how long the first response to a POST with an ``Idempotency-Key`` is replayed (docs/architecture.md)
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)

    # Event bus (subscriptions' deliveries; see docs/events.md): ``amqp://user:password@host:5672/vhost``
    #: RabbitMQ; unset: the embedded relay and polling delivery. May carry a password: shown masked
    bus_url: SecretStr | None = None

    # Logging / tracing
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.AUTO
    otlp_endpoint: str | None = None

    # Authentication
    jwt_issuer: str = "neo-service-layer"
    jwt_audience: str = "neo-service-layer-api"
    #: key-encryption key (32 bytes, hex or base64) sealing JWT signing keys and TOTP secrets at rest;
    #: outside production a random one is generated into <data_dir>/secrets/jwt.kek when unset
    jwt_kek: SecretStr | None = None
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=300)
    password_min_length: int = Field(default=12, ge=12, le=128)
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    mfa_required_roles: list[str] = Field(default_factory=lambda: ["superadmin", "owner", "admin"])
    totp_issuer: str = "Neo Service Layer"

    # Enclave
    tee_platform: TeePlatform = TeePlatform.SIMULATION
    tee_allow_simulation: bool = False
    enclave_socket: Path | None = None
    #: loopback "host:port" instead of the Unix socket (Gramine: host processes cannot reach an
    #: in-enclave Unix socket)
    enclave_tcp: str | None = None
    enclave_timeout_seconds: float = Field(default=10.0, gt=0)
    #: this process's own enclave token: the api, worker or cli token of NSL_ENCLAVE_CLIENTS
    enclave_token: SecretStr | None = None
    #: read by the enclave process only: every client's token, JSON {"api": ..., "worker": ..., "cli": ...}
    #: (what each client may call is fixed in ``enclave.clients``); a host process never needs it
    enclave_clients: SecretStr | None = None
    gramine_attestation_dir: Path = Path("/dev/attestation")
    #: enclave measurements (MRENCLAVE hex) that attestation verification accepts
    attest_allowed_measurements: list[str] = Field(default_factory=list)
    #: accept reports of the simulation platform (never by default; production must opt in)
    attest_accept_simulation: bool = False
    #: simulated platform public keys (Ed25519, hex) that verification trusts; outside production the
    #: local enclave's <data_dir>/enclave/platform.pub is trusted too when simulation is accepted
    attest_simulation_platform_keys: list[str] = Field(default_factory=list)
    #: key migration (``nsl keys migrate``), read by the enclave itself: measurements of the enclaves
    #: it gives keys to and takes keys from; empty means its own measurement only (the same code)
    migration_allowed_measurements: list[str] = Field(default_factory=list)
    #: accept simulated enclaves as migration peers (never by default)
    migration_accept_simulation: bool = False
    #: simulated platform public keys (Ed25519, hex) of accepted migration peers
    migration_simulation_platform_keys: list[str] = Field(default_factory=list)

    # Keys
    #: keys whose current version is older than this show ``rotation_due`` (``nsl keys rotate-due``)
    key_max_age_days: int = Field(default=90, ge=1)
    #: how often the worker looks for keys whose destruction grace has passed
    key_destruction_interval_seconds: float = Field(default=300.0, gt=0)
    #: a key is destroyed this long after its tenant schedules it; the enclave (same variable, at least
    #: 7 days in production) refuses to destroy a key disabled less long ago
    key_destruction_grace_seconds: float = Field(default=7 * 24 * 3600.0, ge=0)

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
        config_file = os.environ.get("NSL_CONFIG_FILE")
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

    @field_validator("jwt_kek")
    @classmethod
    def _kek_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_kek(value.get_secret_value())
        return value

    @field_validator("rate_limits", "rate_limits_per_ip")
    @classmethod
    def _rate_limit_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(DEFAULT_RATE_LIMITS)
        if unknown:
            known = sorted(DEFAULT_RATE_LIMITS)
            raise ValueError(f"unknown rate-limit groups {sorted(unknown)}; known: {known}")
        return {**DEFAULT_RATE_LIMITS, **value}

    @field_validator("attest_simulation_platform_keys", "migration_simulation_platform_keys")
    @classmethod
    def _hex_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            try:
                if len(bytes.fromhex(key)) != 32:
                    raise ValueError
            except ValueError:
                raise ValueError("simulation platform keys are 32-byte Ed25519 public keys in hex") from None
        return [k.lower() for k in value]

    @field_validator(
        "neo_rpc_urls",
        "evm_rpc_urls",
        "oracle_allow_hosts",
        "neo_oracle_peers",
        "secret_sources_allow_hosts",
        mode="before",
    )
    @classmethod
    def _url_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # NSL_NEO_RPC_URLS=a,b or a JSON list
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [u.strip() for u in text.split(",") if u.strip()]
        return value

    @field_validator("enclave_tcp")
    @classmethod
    def _loopback_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or host.strip("[]") not in {"127.0.0.1", "::1", "localhost"}:
            raise ValueError("NSL_ENCLAVE_TCP must be a loopback host:port, e.g. 127.0.0.1:7443")
        return value

    @field_validator("smtp_host", "smtp_username", "smtp_from", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bus_url", mode="before")
    @classmethod
    def _blank_bus_is_unset(cls, value: Any) -> Any:
        """(Its scheme is checked where the bus is opened: a validation error would echo the URL.)"""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(raw, str) and not raw.strip() else value

    @model_validator(mode="after")
    def _smtp_complete(self) -> Self:
        if self.smtp_host is not None and self.smtp_from is None:
            raise ValueError("NSL_SMTP_FROM is required with NSL_SMTP_HOST")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("NSL_SMTP_USERNAME and NSL_SMTP_PASSWORD must be set together")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("NSL_TLS_CERT_FILE and NSL_TLS_KEY_FILE must be set together")
        return self

    @model_validator(mode="after")
    def _workers_share_redis(self) -> Self:
        if self.http_workers > 1 and self.redis_url is None:
            raise ValueError(
                "NSL_HTTP_WORKERS > 1 needs NSL_REDIS_URL: each process would otherwise keep its own rate"
                " limits (N times the configured limit) and miss the others' cache invalidations"
            )
        return self

    # Derived values -------------------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file under the data directory."""
        if self.database_url is not None and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'nsl.db').resolve()}"

    @property
    def masked_database_url(self) -> str:
        return mask_url_password(self.effective_database_url)

    @property
    def masked_bus_url(self) -> str | None:
        """``NSL_BUS_URL`` with its password hidden, for logs."""
        return None if self.bus_url is None else mask_url_password(self.bus_url.get_secret_value())

    def effective_http_workers(self, cores: int) -> int:
        """How many API processes ``nsl serve`` runs, given the cores available to it."""
        if self.http_workers:
            return self.http_workers
        return max(1, cores) if self.redis_url is not None else 1

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return not self.is_production

    @property
    def effective_enclave_socket(self) -> Path:
        return self.enclave_socket or (self.data_dir / "enclave.sock")

    @property
    def enclave_tcp_address(self) -> tuple[str, int] | None:
        if not self.enclave_tcp:
            return None
        host, _, port = self.enclave_tcp.rpartition(":")
        return host.strip("[]"), int(port)

    def production_problems(self) -> list[str]:
        """Development-only settings that production refuses, each said plainly."""
        if not self.is_production:
            return []
        problems: list[str] = []
        if self.is_sqlite:
            problems.append("NSL_DATABASE_URL is unset or SQLite; production needs PostgreSQL")
        if self.tee_platform is TeePlatform.SIMULATION and not self.tee_allow_simulation:
            problems.append("NSL_TEE_PLATFORM=simulation in production needs NSL_TEE_ALLOW_SIMULATION=true")
        if self.tls_cert_file is None and not self.trusted_proxies:
            problems.append(
                "no TLS: set NSL_TLS_CERT_FILE/NSL_TLS_KEY_FILE, or NSL_TRUSTED_PROXIES for a TLS proxy"
            )
        if self.enclave_token is None:
            problems.append("NSL_ENCLAVE_TOKEN is not set")
        if self.jwt_kek is None:
            problems.append("NSL_JWT_KEK is not set (it seals the JWT signing keys and TOTP secrets)")
        if self.smtp_host is not None and self.smtp_tls == "none" and not is_loopback(self.smtp_host):
            problems.append("NSL_SMTP_TLS=none in production is allowed for a loopback NSL_SMTP_HOST only")
        return problems

    def masked(self) -> dict[str, Any]:
        """Settings as plain data with every secret replaced by ``********``."""
        shown: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name in ("database_url", "bus_url") and isinstance(value, SecretStr):
                shown[name] = mask_url_password(value.get_secret_value())
            elif isinstance(value, SecretStr):
                shown[name] = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                shown[name] = str(value)
            else:
                shown[name] = value
        return shown


class ConfigurationError(Exception):
    """The configuration cannot be used as given; the message says why."""


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and TOML file); raise ``ConfigurationError`` if invalid."""
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
