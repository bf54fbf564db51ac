"""The enclave's own settings: read from NSL_* variables (and NSL_CONFIG_FILE), nothing of the host."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from neo_service_layer.enclave import __main__ as enclave_entry
from neo_service_layer.enclave.main import EnclaveStartupError, build_fetcher, build_server, run_enclave
from neo_service_layer.enclave.settings import (
    EnclaveConfigurationError,
    EnclaveSettings,
    Environment,
    TeePlatform,
    load_enclave_settings,
)
from neo_service_layer.kernel import config as host_config

PLATFORM_KEY = "ab" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No NSL_* variable of the machine running the tests leaks in; the data directory is temporary."""
    for name in list(os.environ):
        if name.startswith("NSL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path))


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "NSL_ENV": "production",
        "NSL_LOG_LEVEL": "debug",
        "NSL_TEE_PLATFORM": "gramine-sgx",
        "NSL_TEE_ALLOW_SIMULATION": "true",
        "NSL_GRAMINE_ATTESTATION_DIR": str(tmp_path / "attestation"),
        "NSL_ENCLAVE_SOCKET": str(tmp_path / "e.sock"),
        "NSL_ENCLAVE_TCP": "127.0.0.1:7443",
        "NSL_ENCLAVE_TOKEN": "the-token",
        "NSL_MIGRATION_ALLOWED_MEASUREMENTS": '["aa", "bb"]',
        "NSL_MIGRATION_ACCEPT_SIMULATION": "true",
        "NSL_MIGRATION_SIMULATION_PLATFORM_KEYS": f'["{PLATFORM_KEY.upper()}"]',
        "NSL_ORACLE_ALLOW_HOSTS": "10.0.0.0/8, 192.168.1.1",
        "NSL_ORACLE_ALLOW_HTTP": "1",
        "NSL_ORACLE_CA_FILE": str(tmp_path / "ca.pem"),
        "NSL_DATABASE_URL": "postgresql://u:p@db/nsl",  # a host variable: ignored
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_enclave_settings()
    assert settings.env is Environment.PRODUCTION
    assert settings.is_production
    assert settings.data_dir == tmp_path
    assert settings.log_level == "DEBUG"
    assert settings.tee_platform is TeePlatform.GRAMINE_SGX
    assert settings.tee_allow_simulation is True
    assert settings.gramine_attestation_dir == tmp_path / "attestation"
    assert settings.effective_enclave_socket == tmp_path / "e.sock"
    assert settings.enclave_tcp_address == ("127.0.0.1", 7443)
    assert settings.enclave_token is not None
    assert settings.enclave_token.get_secret_value() == "the-token"
    assert settings.migration_allowed_measurements == ["aa", "bb"]
    assert settings.migration_accept_simulation is True
    assert settings.migration_simulation_platform_keys == [PLATFORM_KEY]
    assert settings.oracle_allow_hosts == ["10.0.0.0/8", "192.168.1.1"]
    assert settings.oracle_allow_http is True
    assert settings.oracle_ca_file == tmp_path / "ca.pem"
    assert not hasattr(settings, "database_url")


def test_defaults() -> None:
    settings = EnclaveSettings()
    assert settings.env is Environment.DEVELOPMENT
    assert not settings.is_production
    assert settings.tee_platform is TeePlatform.SIMULATION
    assert settings.enclave_token is None
    assert settings.effective_enclave_socket == settings.data_dir / "enclave.sock"
    assert settings.enclave_tcp_address is None
    assert settings.gramine_attestation_dir == Path("/dev/attestation")
    assert settings.oracle_allow_hosts == []
    assert settings.oracle_allow_http is False
    assert settings.oracle_ca_file is None


def test_the_token_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", "never-shown")
    settings = load_enclave_settings()
    assert isinstance(settings.enclave_token, SecretStr)
    assert "never-shown" not in repr(settings)
    assert "never-shown" not in str(settings.model_dump())


def test_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EnclaveStartupError, match="NSL_ENCLAVE_TOKEN is not set"):
        build_server(load_enclave_settings())
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", "")
    with pytest.raises(EnclaveStartupError, match="NSL_ENCLAVE_TOKEN is not set"):
        build_server(load_enclave_settings())
    with pytest.raises(EnclaveStartupError, match="NSL_ENCLAVE_TOKEN is not set"):
        run_enclave(load_enclave_settings())  # refuses before binding anything


def test_entry_point_refuses_without_a_token(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert enclave_entry.main() == 2
    assert "NSL_ENCLAVE_TOKEN is not set" in capsys.readouterr().err
    assert not (tmp_path / "enclave.sock").exists()


def test_entry_point_refuses_an_invalid_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NSL_ENCLAVE_TOKEN", "t")
    monkeypatch.setenv("NSL_TEE_PLATFORM", "sev")
    assert enclave_entry.main() == 2
    err = capsys.readouterr().err
    assert "invalid configuration" in err
    assert "tee_platform" in err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NSL_ENCLAVE_TCP", "0.0.0.0:7443"),
        ("NSL_ENCLAVE_TCP", "127.0.0.1"),
        ("NSL_LOG_LEVEL", "loud"),
        ("NSL_ENV", "staging"),
        ("NSL_MIGRATION_SIMULATION_PLATFORM_KEYS", '["abcd"]'),
        ("NSL_ORACLE_ALLOW_HOSTS", "localhost"),
        ("NSL_ORACLE_ALLOW_HOSTS", '{"not": "a list"}'),
        ("NSL_ORACLE_ALLOW_HTTP", "maybe"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(EnclaveConfigurationError):
        load_enclave_settings()


def test_allow_hosts_as_a_json_list_and_the_fetcher_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSL_ORACLE_ALLOW_HOSTS", '["127.0.0.1", "::1"]')
    monkeypatch.setenv("NSL_ORACLE_ALLOW_HTTP", "true")
    policy = build_fetcher(load_enclave_settings()).policy
    assert policy.allow_http is True
    assert [str(n) for n in policy.allow_networks] == ["127.0.0.1/32", "::1/128"]
    assert policy.allows(ipaddress.ip_address("::1"))
    monkeypatch.delenv("NSL_ORACLE_ALLOW_HOSTS")
    monkeypatch.delenv("NSL_ORACLE_ALLOW_HTTP")
    strict = build_fetcher(load_enclave_settings()).policy
    assert (strict.allow_http, strict.allow_networks) == (False, ())


def test_ca_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NSL_ORACLE_CA_FILE", "")
    assert load_enclave_settings().oracle_ca_file is None  # empty means unset, as before
    monkeypatch.setenv("NSL_ORACLE_CA_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(EnclaveStartupError, match="NSL_ORACLE_CA_FILE"):
        build_fetcher(load_enclave_settings())


def test_config_file_under_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "nsl.toml"
    config.write_text('log_level = "warning"\ntee_allow_simulation = true\nhttp_port = 9000\n')
    monkeypatch.setenv("NSL_CONFIG_FILE", str(config))
    monkeypatch.setenv("NSL_LOG_LEVEL", "error")
    settings = load_enclave_settings()
    assert settings.tee_allow_simulation is True  # from the file (its host-only keys are ignored)
    assert settings.log_level == "ERROR"  # the environment wins


def test_same_variables_as_the_host_documents() -> None:
    """Each enclave setting is a host setting of the same name (so `nsl config show` lists it)."""
    host = host_config.Settings.model_fields
    assert set(EnclaveSettings.model_fields) <= set(host)
    assert {p.value for p in TeePlatform} == {p.value for p in host_config.TeePlatform}
    assert {e.value for e in Environment} == {e.value for e in host_config.Environment}


def test_the_enclave_program_loads_nothing_of_the_host() -> None:
    code = (
        "import sys, neo_service_layer.enclave.__main__\n"
        "host = sorted(m for m in sys.modules if m.startswith(('neo_service_layer.kernel',"
        " 'neo_service_layer.services', 'neo_service_layer.bootstrap', 'neo_service_layer.cli')))\n"
        "print(host)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
