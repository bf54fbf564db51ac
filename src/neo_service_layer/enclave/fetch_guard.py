"""SSRF guard of the oracle fetcher: which URLs and which resolved addresses the enclave may connect to.

Runs in the enclave process. A URL is checked first (scheme, no user info, a host, a port), then every
address its host resolves to; the fetcher connects only to an address this module accepted (no second
DNS lookup, so DNS rebinding between check and connect is impossible).

Refused addresses: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT (100.64/10), multicast,
unspecified, broadcast, reserved and documentation ranges, benchmarking (198.18/15), cloud metadata
endpoints, IPv4-mapped / IPv4-compatible / 6to4 / Teredo / NAT64 IPv6 addresses whose embedded IPv4
address is refused, and anything else that is not globally routable. The development allow-list
(``NSL_ORACLE_ALLOW_HOSTS``: IP addresses or CIDR networks) lets chosen addresses through;
``NSL_ORACLE_ALLOW_HTTP`` permits plain ``http://``. Both are read by ``enclave.settings``; the
policy is built from them by ``enclave.main.build_fetcher``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_CHARS = 2048

_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
_V4_REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified or 'this network'"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved or broadcast"),
)
_V6_REFUSED: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
_V4_NETS = tuple((ipaddress.IPv4Network(n), why) for n, why in _V4_REFUSED)
_V6_NETS = tuple((ipaddress.IPv6Network(n), why) for n, why in _V6_REFUSED)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class GuardRefused(Exception):
    """The URL or a resolved address is not allowed; the message names the reason, never a secret."""


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """What the guard lets through beyond public HTTPS: an allow-list for development and tests."""

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_http: bool = False

    @classmethod
    def of(cls, allow_hosts: Iterable[str] = (), allow_http: bool = False) -> GuardPolicy:
        """Build from IP addresses / CIDR networks; anything else raises ``ValueError``."""
        networks = tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in allow_hosts)
        return cls(networks, allow_http)

    def allows(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.allow_networks)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: scheme, host as written (IDNA-encoded), port, and the request target."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, at least "/"
    literal: IPAddress | None = field(default=None)  # the host when it is an IP literal

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if self.literal is not None and self.literal.version == 6 else self.host
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str, policy: GuardPolicy) -> Target:
    """Parse and check a URL before any DNS lookup; raises ``GuardRefused``."""
    if len(url) > MAX_URL_CHARS:
        raise GuardRefused("URL is too long")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise GuardRefused("URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise GuardRefused("URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not policy.allow_http:
            raise GuardRefused("plain http is not allowed")
    elif scheme != "https":
        raise GuardRefused("only https URLs are allowed")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise GuardRefused("URLs with user info are not allowed")
    host = _host(parts)
    literal = _literal(host)
    if port is None:
        port = 443 if scheme == "https" else 80
    if not 1 <= port <= 65535:
        raise GuardRefused("URL port is out of range")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Target(scheme, host, port, target, literal)


def check_address(address: IPAddress, policy: GuardPolicy) -> None:
    """Refuse an address the fetcher must not connect to (unless allow-listed); raises ``GuardRefused``."""
    if policy.allows(address):
        return
    reason = refusal_reason(address)
    if reason is not None:
        raise GuardRefused(f"address {address} is refused: {reason}")


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or ``None`` if it is one."""
    if address in _METADATA:
        return "cloud metadata endpoint"
    if isinstance(address, ipaddress.IPv4Address):
        for net, why in _V4_NETS:
            if address in net:
                return why
        return None if address.is_global else "not globally routable"
    embedded = _embedded_v4(address)
    if embedded is not None:
        inner = refusal_reason(embedded)
        return None if inner is None else f"embeds IPv4 {embedded} ({inner})"
    for net6, why in _V6_NETS:
        if address in net6:
            return why
    if address.scope_id:
        return "scoped address"
    return None if address.is_global else "not globally routable"


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a mapped, compatible, NAT64, 6to4 or Teredo IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64) or (address in _V4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _host(parts: SplitResult) -> str:
    host = parts.hostname
    if not host:
        raise GuardRefused("URL has no host")
    host = host.rstrip(".")
    if "%" in host:
        raise GuardRefused("scoped IPv6 literals are not allowed")
    if _literal(host) is not None:
        return host
    try:
        encoded = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise GuardRefused("URL host is not a valid domain name") from None
    if not encoded or len(encoded) > 253 or any(not 1 <= len(label) <= 63 for label in encoded.split(".")):
        raise GuardRefused("URL host is not a valid domain name")
    if _numeric_host(encoded):
        raise GuardRefused("numeric host names other than dotted-quad IPv4 are not allowed")
    return encoded


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _numeric_host(host: str) -> bool:
    """Hosts like ``2130706433``, ``0x7f.1`` or ``0177.0.0.1`` that some resolvers read as IPv4."""
    labels = host.split(".")
    return all(label.isdigit() or label.startswith("0x") for label in labels) and len(labels) <= 4
