"""Typed settings for every process of the service layer.

Values come from environment variables prefixed ``NSL_`` and, optionally, a TOML file named by
``NSL_CONFIG_FILE`` (environment wins over the file). Secret values are wrapped in ``SecretStr`` so
that ``repr``, logs and ``nsl config show`` never print them; nothing secret has a default.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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


class Settings(BaseSettings):
    """All configuration, flat, with the ``NSL_`` prefix (``data_dir`` is ``NSL_DATA_DIR``)."""

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

    # Logging / tracing
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.AUTO
    otlp_endpoint: str | None = None

    # Authentication
    jwt_issuer: str = "neo-service-layer"
    jwt_audience: str = "neo-service-layer-api"

    # Enclave
    tee_platform: TeePlatform = TeePlatform.SIMULATION
    tee_allow_simulation: bool = False
    enclave_socket: Path | None = None
    enclave_token: SecretStr | None = None
    gramine_attestation_dir: Path = Path("/dev/attestation")

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

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("NSL_TLS_CERT_FILE and NSL_TLS_KEY_FILE must be set together")
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
        return problems

    def masked(self) -> dict[str, Any]:
        """Settings as plain data with every secret replaced by ``********``."""
        shown: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name == "database_url" and isinstance(value, SecretStr):
                shown[name] = mask_url_password(value.get_secret_value())
            elif isinstance(value, SecretStr):
                shown[name] = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                shown[name] = str(value)
            else:
                shown[name] = value
        return shown


def mask_url_password(url: str) -> str:
    """Hide the password part of ``scheme://user:password@host/...``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':********' if colon else ''}@{host}"


class ConfigurationError(Exception):
    """The configuration cannot be used as given; the message says why."""


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and TOML file); raise ``ConfigurationError`` if invalid."""
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
