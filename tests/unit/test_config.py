from pathlib import Path

import pytest

from neo_service_layer.kernel.config import ConfigurationError, Settings, load_settings
from neo_service_layer.kernel.config_values import mask_url_password


def test_env_prefix_and_types(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NSL_HTTP_PORT", "9099")
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NSL_DB_POOL_SIZE", "3")
    settings = load_settings()
    assert settings.http_port == 9099
    assert settings.data_dir == tmp_path
    assert settings.db_pool_size == 3
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'nsl.db').resolve()}"


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "nsl.toml"
    config.write_text('http_port = 7001\nlog_level = "debug"\n')
    monkeypatch.setenv("NSL_CONFIG_FILE", str(config))
    assert load_settings().http_port == 7001
    assert load_settings().log_level == "DEBUG"
    monkeypatch.setenv("NSL_HTTP_PORT", "7002")
    assert load_settings().http_port == 7002


def test_invalid_values_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSL_HTTP_PORT", "not-a-port")
    with pytest.raises(ConfigurationError, match="http_port"):
        load_settings()


def test_tls_files_come_in_pairs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="set together"):
        Settings(tls_cert_file=tmp_path / "cert.pem")


def test_production_refuses_development_settings_and_says_which() -> None:
    problems = Settings(env="production").production_problems()
    joined = "\n".join(problems)
    assert "PostgreSQL" in joined
    assert "NSL_TEE_ALLOW_SIMULATION" in joined
    assert "TLS" in joined
    assert "NSL_ENCLAVE_TOKEN" in joined


def test_production_accepts_a_complete_configuration(tmp_path: Path) -> None:
    settings = Settings(
        env="production",
        database_url="postgresql://app@db/nsl",
        tee_allow_simulation=True,
        trusted_proxies=["10.0.0.1"],
        enclave_token="t" * 32,
        jwt_kek="11" * 32,
    )
    assert settings.production_problems() == []


def test_development_has_no_production_problems() -> None:
    assert Settings().production_problems() == []


def test_secrets_are_masked_everywhere() -> None:
    settings = Settings(
        redis_url="redis://:hunter2-redis@cache:6379/0",
        enclave_token="tok-very-secret",
        database_url="postgresql://app:pg-pass-123@db/nsl",
    )
    shown = repr(settings) + str(settings.masked())
    for secret in ("hunter2-redis", "tok-very-secret", "pg-pass-123"):
        assert secret not in shown
    assert settings.masked()["enclave_token"] == "********"
    assert settings.masked()["database_url"] == "postgresql://app:********@db/nsl"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:p@h/db", "postgresql://u:********@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("redis://:pw@h:1/0", "redis://:********@h:1/0"),
    ],
)
def test_mask_url_password(url: str, masked: str) -> None:
    assert mask_url_password(url) == masked
