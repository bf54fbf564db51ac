"""The settings the enclave reads from its own environment and the host only shows (``nsl config show``)
are declared twice, once on each side of the trust boundary (the host may not import the enclave's
settings, and the wire protocol takes no pydantic): both copies must read the same variables the same
way, or ``nsl config show`` would tell the operator a value the enclave does not use."""

from __future__ import annotations

from pathlib import Path

import pytest

from neo_service_layer.enclave.settings import EnclaveSettings
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.config_services import ServiceSettings

#: every field of the host's settings that the enclave reads itself
SHOWN_FOR_THE_ENCLAVE = (
    "oracle_allow_hosts",
    "oracle_allow_http",
    "oracle_ca_file",
    "compute_max_fuel",
    "compute_max_memory_mb",
    "compute_max_wall_ms",
    "compute_max_fetches",
    "compute_max_result_bytes",
    "compute_concurrency",
)


@pytest.mark.parametrize("name", SHOWN_FOR_THE_ENCLAVE)
def test_the_host_and_the_enclave_declare_the_same_field(name: str) -> None:
    host, enclave = ServiceSettings.model_fields[name], EnclaveSettings.model_fields[name]
    assert host.annotation == enclave.annotation
    assert host.get_default(call_default_factory=True) == enclave.get_default(call_default_factory=True)
    assert host.metadata == enclave.metadata  # the bounds (ge, le...)


def test_the_same_environment_gives_the_same_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    for variable, value in {
        "NSL_ORACLE_ALLOW_HOSTS": "127.0.0.1,10.0.0.0/8",
        "NSL_ORACLE_ALLOW_HTTP": "true",
        "NSL_ORACLE_CA_FILE": str(ca_file),
        "NSL_COMPUTE_MAX_FUEL": "5000000",
        "NSL_COMPUTE_MAX_MEMORY_MB": "64",
        "NSL_COMPUTE_MAX_WALL_MS": "1500",
        "NSL_COMPUTE_MAX_FETCHES": "3",
        "NSL_COMPUTE_MAX_RESULT_BYTES": "4096",
        "NSL_COMPUTE_CONCURRENCY": "5",
    }.items():
        monkeypatch.setenv(variable, value)
    host, enclave = Settings(data_dir=tmp_path), EnclaveSettings(data_dir=tmp_path)
    for name in SHOWN_FOR_THE_ENCLAVE:
        assert getattr(host, name) == getattr(enclave, name), name
    assert host.oracle_allow_hosts == ["127.0.0.1", "10.0.0.0/8"]
