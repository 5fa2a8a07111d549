"""Where push messages may go: a push resource must be a public address on the internet,
never this machine, the operator's networks or a cloud's metadata service (a CardDAV user
chooses the URL, and the server POSTs to it: a request forgery otherwise).

The resolver is the ground truth: a host is judged by the addresses ``getaddrinfo`` gives
for it, which also reads every spelling a URL may hide an address in (``0x7f000001``,
``2130706433``, ``0177.0.0.1``, ``127.1``). The same check runs again for every
connection the sender opens (``transport``), on the very addresses it then connects to,
so a name that resolves elsewhere later (DNS rebinding) gains nothing. Hosts the operator
lists in ``[push] allow_hosts`` (a push service on their own network) are not checked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to connect to, in the order to try them
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: an IPv4 address in its last bits
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class DestinationRefused(ValueError):
    """A push resource's host is not a public address; the reason says why, for people."""


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, as the operating system's resolver says."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DestinationRefused(f"{host} does not resolve ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def normal_host(host: str) -> str:
    """A host as allow lists compare it: lower case, an IPv6 literal without brackets."""
    return host.strip().lower().removeprefix("[").removesuffix("]")


def refusal(address: IPAddress) -> str | None:
    """Why nothing may be sent to ``address`` (None: it is a public unicast address).
    An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64) is judged by that."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    for kind, test in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unique-local", address in _UNIQUE_LOCAL),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
    ):
        if test:
            return f"a {kind} address"
    if not address.is_global:  # shared (100.64.0.0/10) and the like
        return "not a public address"
    return None


def check_addresses(host: str, addresses: Iterable[str]) -> list[str]:
    """``addresses`` if every one is public; DestinationRefused otherwise (one private
    answer among public ones is how a name points both ways at once)."""
    found = list(addresses)
    if not found:
        raise DestinationRefused(f"{host} resolves to no address")
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])  # fe80::1%eth0
        except ValueError:
            raise DestinationRefused(f"{host} resolves to {text!r}, not an address") from None
        why = refusal(address)
        if why is not None:
            raise DestinationRefused(f"{host} resolves to {address}, {why}")
    return found


class Destinations:
    """The policy: which hosts are taken as they are (``allow_hosts``), and how the others
    are resolved to be judged."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolve: Resolver = system_resolve) -> None:
        self.allow_hosts = frozenset(normal_host(h) for h in allow_hosts)
        self.resolve = resolve

    def allowed(self, host: str) -> bool:
        return normal_host(host) in self.allow_hosts

    def addresses(self, host: str, port: int) -> list[str]:
        """What to connect to for ``host``: its addresses, all of them public unless the
        operator allowed the host; DestinationRefused otherwise."""
        resolved = self.resolve(host, port)
        return resolved if self.allowed(host) else check_addresses(host, resolved)

    def check_url(self, url: str) -> None:
        """Refuse (DestinationRefused) a push resource whose host is not public now."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not self.allowed(host):
            port = parts.port or (443 if parts.scheme == "https" else 80)
            check_addresses(host, self.resolve(host, port))
