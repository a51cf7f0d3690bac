"""Which hosts a webhook may reach (server-side request forgery rules), in one place.

The API schemas check a webhook URL when it is registered and the secretariat's sender checks
it again on every connection (DNS can change between the two), then connects to the very
address it checked. A host that is, or resolves to, a loopback, private, link-local,
multicast, unspecified, reserved or cloud-metadata address is refused, whatever its spelling
(`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`, …), unless the setting
`WEBHOOK_ALLOW_PRIVATE_NETWORKS` (comma-separated CIDRs) lists its network. Cloud-metadata
addresses and unspecified ones are refused even then. Plain Python: no marshmallow, no eventlet.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

ALLOW_SETTING = "WEBHOOK_ALLOW_PRIVATE_NETWORKS"
SCHEMES = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]


class HostRefused(ValueError):
    """A webhook URL or host that must not be reached; the message says why, for a person."""


def _nets(*rows: tuple[str, str]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), why) for cidr, why in rows)


# Checked in order; the first match names the reason.
REFUSED_NETWORKS = _nets(
    ("0.0.0.0/8", "an unspecified ('this network') address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "a reserved address (IETF protocol assignments)"),
    ("192.0.2.0/24", "a reserved address (documentation)"),
    ("192.88.99.0/24", "a reserved address (6to4 relay anycast)"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a reserved address (benchmarking)"),
    ("198.51.100.0/24", "a reserved address (documentation)"),
    ("203.0.113.0/24", "a reserved address (documentation)"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("::/96", "a reserved address (IPv4-compatible)"),
    ("64:ff9b:1::/48", "a private address (local-use NAT64)"),
    ("100::/64", "a reserved address (discard-only)"),
    ("2001::/23", "a reserved address (IETF protocol assignments, Teredo)"),
    ("2001:db8::/32", "a reserved address (documentation)"),
    ("3fff::/20", "a reserved address (documentation)"),
    ("5f00::/16", "a reserved address (segment routing)"),
    ("fc00::/7", "a private (unique local) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a reserved (site-local) address"),
    ("ff00::/8", "a multicast address"),
)

# The instance-metadata services of the usual clouds: never reachable, whatever is allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, …
        "169.254.169.253",  # AWS DNS
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server (a public address)
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",
        "fd20:ce::254",  # GCP over IPv6
    )
)
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")

_NUMBER = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # spaces, controls, backslashes: parsers disagree on them


@dataclass(frozen=True)
class Target:
    """Where a webhook URL points: what to check and connect to, and what to name in Host/SNI."""

    scheme: str
    host: str  # lowercase; IPv6 without brackets; a name in its ASCII (IDNA) form
    port: int
    address: IPAddress | None  # the host when it is an address literal, in any spelling

    @property
    def single_label(self) -> bool:
        return self.address is None and "." not in self.host


# Settings


def parse_networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """`127.0.0.0/8,10.0.0.0/8` (or single addresses) as networks; ValueError names a bad entry."""
    entries = spec.split(",") if isinstance(spec, str) else list(spec)
    networks = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{ALLOW_SETTING}: {entry!r} is not an address or CIDR network") from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _env_networks(spec: str) -> tuple[Network, ...]:
    try:
        return parse_networks(spec)
    except ValueError as exc:
        # Fail closed: a typo allows nothing (and says so) rather than failing every request.
        log.error("%s; no private network is allowed", exc)
        return ()


def allowed_networks(environ: Mapping[str, str] | None = None) -> tuple[Network, ...]:
    """The private networks the environment allows webhooks to reach (none by default)."""
    return _env_networks((os.environ if environ is None else environ).get(ALLOW_SETTING, ""))


# Addresses


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`: what inet_aton (and browsers) read as IPv4."""
    parts = host.split(".")
    if not _NUMBER.match(parts[-1]):
        return None  # a name: its last label is not a number
    if len(parts) > 4 or not all(_NUMBER.match(p) for p in parts):
        raise HostRefused(f"{host!r} is not a valid IPv4 address")
    values = []
    for part in parts:
        if part[:2].lower() == "0x":
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                raise HostRefused(f"{host!r} is not a valid IPv4 address")
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 256 ** (5 - len(values)):
        raise HostRefused(f"{host!r} is not a valid IPv4 address")
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling; None for a name."""
    host = host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise HostRefused(f"{host!r} is not a valid IPv6 address") from None
    return _legacy_ipv4(host.removesuffix("."))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, 6to4, or NAT64 (they reach that IPv4 host)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, allowed: Iterable[Network] = ()) -> str | None:
    """Why a webhook may not reach this address, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # drop a zone (%eth0): it does not change the address
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = refusal(inner, allowed)
            return f"{why} (as {address})" if why else None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_unspecified:
        return f"{address} is an unspecified address"
    if any(address.version == net.version and address in net for net in allowed):
        return None  # the organisation's own network, allowed on purpose
    for network, why in REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return f"{address} is {why}"
    if address.is_multicast or address.is_reserved or address.is_private or not address.is_global:
        return f"{address} is not a public address"
    return None


_EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def check_address(address: IPAddress, allowed: Iterable[Network] = ()) -> IPAddress:
    why = refusal(address, allowed)
    if why and refusal(address, _EVERYWHERE) is None:
        raise HostRefused(f"{why}; only networks listed in {ALLOW_SETTING} may be reached")
    if why:
        raise HostRefused(why)  # metadata and unspecified addresses: no setting allows them
    return address


# URLs


def target(url: str) -> Target:
    """The scheme, host and port of a webhook URL, or HostRefused saying what is wrong with it."""
    if not isinstance(url, str) or _UNSAFE.search(url):
        raise HostRefused("not a URL without spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HostRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise HostRefused("only http and https URLs are allowed")
    if "@" in parts.netloc:
        raise HostRefused("credentials do not belong in a webhook URL (the webhook is signed)")
    host = parts.hostname or ""
    if not host:
        raise HostRefused("the URL has no host")
    if port == 0:
        raise HostRefused("port 0 is not a port to connect to")
    address = literal_address(host)
    if address is None:
        host = _ascii_name(host)
    return Target(scheme, host if address is None else host.strip("[]"), port or SCHEMES[scheme], address)


def _ascii_name(host: str) -> str:
    try:
        name = host.removesuffix(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise HostRefused(f"{host!r} is not a valid host name") from None
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise HostRefused(f"{host!r} is not a valid host name")
    return name


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address a name resolves to (TCP), in the resolver's order; OSError if none."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise OSError(f"{host} resolves to no address")
    return found


def _named_addresses(where: Target) -> list[IPAddress] | None:
    """The addresses a name stands for without asking DNS (localhost), or None to ask."""
    if where.host in METADATA_HOSTS:
        raise HostRefused(f"{where.host} is a cloud metadata host")
    if where.host == "localhost" or where.host.endswith(".localhost"):
        return [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")]  # RFC 6761
    return None


def addresses_to_connect(
    url: str | Target, allowed: Iterable[Network] = (), resolver: Resolver | None = None
) -> tuple[Target, list[IPAddress]]:
    """At connection time: the checked addresses to connect to (only those), or HostRefused.

    Every address the name resolves to must pass: an answer mixing a public and a private
    address is refused as a whole (DNS rebinding)."""
    where = url if isinstance(url, Target) else target(url)
    allowed = tuple(allowed)
    if where.address is not None:
        return where, [check_address(where.address, allowed)]
    addresses = _named_addresses(where)
    if addresses is None:
        try:
            addresses = (resolver or resolve)(where.host, where.port)
        except (OSError, UnicodeError) as exc:
            raise HostRefused(f"{where.host} does not resolve ({exc})") from None
    return where, [check_address(address, allowed) for address in addresses]


def check_url(url: str, allowed: Iterable[Network] | None = None, resolver: Resolver | None = None) -> Target:
    """At registration: refuse a URL whose host is or resolves to a refused address.

    A name that does not resolve yet is accepted (DNS may be down, or the record not made
    yet; the sender checks again on every connection), except a single-label name such as a
    compose service (`http://receiver:8080/`): it is only meaningful inside a private network,
    so it must resolve now, to an allowed one."""
    allowed = allowed_networks() if allowed is None else tuple(allowed)
    where = target(url)
    if where.address is not None or _named_addresses(where) is not None:
        addresses_to_connect(where, allowed, resolver)
        return where
    try:
        addresses = (resolver or resolve)(where.host, where.port)
    except (OSError, UnicodeError):
        if where.single_label:
            raise HostRefused(
                f"{where.host} does not resolve; a single-label host must resolve to a network {ALLOW_SETTING} allows"
            ) from None
        return where  # unresolvable for now: the connection-time check decides
    for address in addresses:
        check_address(address, allowed)
    return where
