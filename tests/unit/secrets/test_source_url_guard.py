"""The SSRF guard of secret imports (host side): every refused class of address, and the allowances."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.kernel.secret_values import Secret
from neo_service_layer.services.secrets.adapters.sources import build_secret_source, check_source_config
from neo_service_layer.services.secrets.adapters.url_guard import (
    InvalidSourceAddress,
    SourceUrlPolicy,
    check_source_url,
)
from neo_service_layer.services.secrets.ports import (
    AwsSourceConfig,
    AwsStaticCredentials,
    AzureSourceConfig,
    VaultSourceConfig,
    VaultTokenAuth,
)

STRICT = SourceUrlPolicy()


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolve


PUBLIC = resolving_to("20.1.2.3")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "::1",                      # loopback
        "10.0.0.1", "172.16.5.5", "192.168.1.1", "fd12::1",   # private
        "169.254.10.10", "fe80::1",                           # link-local
        "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16",  # metadata
        "100.64.0.1",                                         # CGNAT
        "0.0.0.0", "::",                                      # unspecified
        "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1",  # multicast, broadcast, reserved
        "192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1",  # documentation
        "198.18.0.1", "192.0.0.1",                            # benchmarking, IETF
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::169.254.169.254",  # IPv4 embedded in IPv6
        "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:5601:fefe",
    ],
)  # fmt: skip
def test_a_host_resolving_to_a_refused_address_is_refused(address: str) -> None:
    with pytest.raises(InvalidSourceAddress, match=r"source\.url: .* resolves to"):
        check_source_url("https://vault.attacker.example", "source.url", STRICT, resolving_to(address))
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(InvalidSourceAddress, match=r"source\.url"):
        check_source_url(f"https://{literal}:8200", "source.url", STRICT, PUBLIC)


def test_one_refused_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(InvalidSourceAddress):
        check_source_url("https://v.example", "f", STRICT, resolving_to("20.1.2.3", "10.0.0.1"))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://vault.example.com", "only https"),
        ("ftp://vault.example.com", "only https"),
        ("https://user:pw@vault.example.com", "user info"),
        ("https://2130706433", "numeric"),
        ("https://0x7f.1", "numeric"),
        ("https://0177.0.0.1", "numeric"),
        ("https://[fe80::1%25eth0]", "scoped"),
        ("https://vault example.com", "not a valid URL"),
        ("https://", "no host"),
        ("https://a_b.example.com", "not a valid host name"),
        ("https://vault.example.com:99999", "not a valid URL"),
    ],
)
def test_malformed_or_plain_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidSourceAddress, match=why):
        check_source_url(url, "source.url", STRICT, PUBLIC)


def test_an_unresolvable_host_is_refused() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise OSError("no such host")

    with pytest.raises(InvalidSourceAddress, match="does not resolve"):
        check_source_url("https://nowhere.example", "f", STRICT, fail)


def test_public_https_passes_and_the_operator_allowance_opens_loopback() -> None:
    assert check_source_url("https://vault.example.com:8200/", "f", STRICT, PUBLIC)
    loopback = SourceUrlPolicy.of(["127.0.0.1"], allow_http=True)
    assert check_source_url("http://127.0.0.1:8200", "f", loopback, PUBLIC)
    assert check_source_url("http://localhost:8200", "f", loopback, resolving_to("127.0.0.1"))
    with pytest.raises(InvalidSourceAddress):  # the allowance is exactly what was listed
        check_source_url("http://10.0.0.1", "f", loopback, PUBLIC)
    with pytest.raises(InvalidSourceAddress, match="only https"):
        check_source_url("http://vault.example.com", "f", SourceUrlPolicy.of(["127.0.0.1"]), PUBLIC)


def test_sources_need_the_tenants_own_credentials() -> None:
    aws = AwsSourceConfig(region="eu-central-1")
    with pytest.raises(InvalidInput, match=r"source\.credentials"):
        build_secret_source(aws, resolve=PUBLIC)
    with pytest.raises(InvalidInput, match=r"source\.tenant_id"):
        build_secret_source(AzureSourceConfig(vault_url="https://a.vault.azure.net"), resolve=PUBLIC)
    keys = AwsStaticCredentials("AKIA", Secret("k"))
    with pytest.raises(InvalidInput, match=r"source\.endpoint_url"):
        check_source_config(
            AwsSourceConfig(region="r", credentials=keys, endpoint_url="https://x.example"),
            STRICT,
            resolving_to("169.254.169.254"),
        )
    vault = VaultSourceConfig(url="https://v.example", auth=VaultTokenAuth(Secret("t")), ca_file="/etc/x")
    with pytest.raises(InvalidInput, match=r"source\.ca_file"):
        check_source_config(vault, STRICT, PUBLIC)
    azure = AzureSourceConfig(
        vault_url="https://a.vault.azure.net", tenant_id="t", client_id="c", client_secret=Secret("s")
    )
    with pytest.raises(InvalidInput, match=r"source\.vault_url"):
        check_source_config(azure, STRICT, resolving_to("10.0.0.9"))
    check_source_config(azure, STRICT, PUBLIC)
