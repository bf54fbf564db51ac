"""SSRF guard for the addresses a tenant gives an import source (Vault URL, AWS endpoint, Azure vault URL).

Imports run in the API process, inside the platform's network: a tenant-chosen URL must not reach the
cloud metadata service, the platform's own services or anything else that is not on the internet. This
is the host-side twin of the enclave's oracle guard (``enclave/fetch_guard.py``, which the host may not
import) with the same semantics:

- scheme ``https`` only (``http`` when the operator sets ``NSL_SECRET_SOURCES_ALLOW_HTTP``), no user
  info, a host name or IP literal, no numeric host spellings (``2130706433``, ``0x7f.1``);
- the host is resolved and **every** address must be public: loopback, private, link-local, CGNAT,
  multicast, unspecified, reserved, documentation, benchmarking, the metadata endpoints and IPv6
  addresses embedding one of those (IPv4-mapped, NAT64, 6to4, Teredo) are refused;
- ``NSL_SECRET_SOURCES_ALLOW_HOSTS`` lists IP addresses or CIDR networks let through anyway (tests,
  development: ``127.0.0.1``), like ``NSL_ORACLE_ALLOW_HOSTS`` for the oracle.

The adapters do not follow redirects (hvac: ``max_redirects = 0``; azure-core: ``permit_redirects=False``;
botocore never follows them), so a checked URL cannot bounce to a refused address, and they connect
only to the addresses this check resolved (``adapters.pinned_addresses``): a DNS answer that changes
between the check and the connection (rebinding) is never used.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from neo_service_layer.enclave.wire.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

_REFUSED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32", "100.100.100.200/32",
        "168.63.129.16/32", "::/128", "::1/128", "100::/64", "2001:db8::/32", "3fff::/20", "fc00::/7",
        "fe80::/10", "fec0::/10", "ff00::/8", "fd00:ec2::254/128",
    )
)  # fmt: skip
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidSourceAddress(InvalidInput):
    """A source URL the guard refuses (422, naming the field)."""

    code = "invalid-source-address"


@dataclass(frozen=True, slots=True)
class SourceUrlPolicy:
    """What the guard lets through besides public https addresses (operator settings)."""

    allowed: tuple[IPNetwork, ...] = ()
    allow_http: bool = False

    @classmethod
    def of(cls, allow_hosts: Iterable[str] = (), allow_http: bool = False) -> SourceUrlPolicy:
        return cls(tuple(ipaddress.ip_network(h.strip(), strict=False) for h in allow_hosts), allow_http)

    def permits(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allowed if network.version == address.version)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in n for n in _NAT64) or int(address) >> 32 == 0:  # NAT64, IPv4-compatible
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refused(address: IPAddress) -> bool:
    """True for any address that is not a public unicast address on the internet."""
    if any(address in n for n in _REFUSED_NETWORKS if n.version == address.version):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and refused(embedded):
            return True
    return not address.is_global


def resolve_host(host: str, port: int) -> Sequence[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_source_url(url: str, field: str, policy: SourceUrlPolicy, resolve: Resolver = resolve_host) -> str:
    """``url`` if the guard lets it through, else :class:`InvalidSourceAddress` naming ``field``."""
    source_addresses(url, field, policy, resolve)
    return url


def source_addresses(
    url: str, field: str, policy: SourceUrlPolicy, resolve: Resolver = resolve_host
) -> tuple[str, list[IPAddress]]:
    """The host of ``url`` and every address it resolved to, all let through by the guard (one
    resolution); else :class:`InvalidSourceAddress` naming ``field``."""

    def refuse(why: str) -> InvalidSourceAddress:
        return InvalidSourceAddress(f"{field}: {why}")

    if len(url) > 2048 or any(c.isspace() or ord(c) < 32 for c in url):
        raise refuse("not a valid URL")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise refuse("not a valid URL") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise refuse("only https:// is allowed")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise refuse("user info is not allowed in the URL")
    if not host:
        raise refuse("the URL has no host")
    if "%" in host:
        raise refuse("scoped IPv6 addresses are not allowed")
    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None:
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise refuse("not a valid host name") from None
        if not all(_HOST_LABEL.fullmatch(p) for p in ascii_host.rstrip(".").split(".")):
            raise refuse("not a valid host name")
        if ascii_host.rstrip(".").split(".")[-1].isdigit():
            raise refuse("numeric host spellings are not allowed")
    effective_port = port if port is not None else (443 if parts.scheme == "https" else 80)
    return host, checked_addresses(host, effective_port, policy, resolve, field)


def checked_addresses(
    host: str, port: int, policy: SourceUrlPolicy, resolve: Resolver = resolve_host, field: str = "source"
) -> list[IPAddress]:
    """``host`` (a name or an IP literal) resolved once, every address let through by the guard; else
    :class:`InvalidSourceAddress` naming ``field``."""
    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError):
            raise InvalidSourceAddress(f"{field}: the host name does not resolve") from None
        if not addresses:
            raise InvalidSourceAddress(f"{field}: the host name does not resolve")
    for address in addresses:
        if not policy.permits(address) and refused(address):
            raise InvalidSourceAddress(
                f"{field}: {host} resolves to {address}, a private, loopback, link-local or metadata address"
            )
    return addresses
