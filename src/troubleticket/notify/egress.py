"""The egress guard: which addresses the server may open outbound HTTP connections to.

The server calls URLs that clients or configuration hand it — hub callbacks (event notifications
are POSTed there) and partners' API base URLs. Left alone, a client could register a callback at
``http://169.254.169.254/latest/meta-data/`` or ``http://localhost:8080/admin`` and have the
server fetch internal resources for it (server-side request forgery). This module owns the rule
and both places it is applied:

* **registration time** — :meth:`EgressPolicy.check_url` parses a URL (http and https only, a
  host required), resolves the host and refuses it when *any* of its addresses is refused, or
  when it resolves to nothing. IP literals go through the resolver too, so legacy spellings that
  ``getaddrinfo`` accepts (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``) are judged
  by the address a connection would actually use;
* **connect time** — :meth:`EgressPolicy.session` returns a ``requests.Session`` whose adapters
  resolve the host again when a connection is opened, check every address, and connect to a
  checked address only. A name that resolved to a public address when it was registered and
  resolves to ``127.0.0.1`` now (DNS rebinding) is refused there. The connection keeps the host
  *name*, so the ``Host`` header, TLS SNI and certificate verification are for the name.

An address is refused unless it is global and not multicast (``ipaddress``' attributes decide,
and the refusal names the category: unspecified, loopback, link-local, multicast, reserved,
private, not global). An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) and a NAT64 address of
the well-known prefix (``64:ff9b::/96``) are judged by the IPv4 address they carry; a 6to4
address (``2002::/16``) by its embedded IPv4 address and by itself. Networks in
:attr:`EgressPolicy.allow` are permitted whatever they are (``127.0.0.1/32`` in tests, a partner
on a private network in some deployments).

The guarded session never goes through a proxy: a proxy would make the connection for us, past
the check. Proxies from the environment (``HTTP_PROXY`` ...) are ignored, and a request given a
proxy explicitly is refused. Redirects are the caller's business (callers pass
``allow_redirects=False``); a redirect that is followed anyway is checked when it connects.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.models import PreparedRequest, Response

__all__ = [
    "EgressConnectionRefused",
    "EgressPolicy",
    "EgressRefused",
    "PUBLIC_ONLY",
    "Resolver",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: host, port -> the IP addresses (IPv4 or IPv6, as strings) a connection to them would use
Resolver = Callable[[str, int], list[str]]

_SCHEMES = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ARTICLES = {
    "unspecified": "an unspecified address",
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "multicast": "a multicast address",
    "reserved": "a reserved address",
    "private": "a private address",
    "not global": "an address that is not global",
}


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for a TCP connection to ``host:port``, once, in order."""
    addresses: list[str] = []
    for family, _type, _proto, _canonname, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = sockaddr[0]
        if isinstance(address, str) and address not in addresses:
            addresses.append(address)
    return addresses


class EgressRefused(Exception):
    """An outbound call the policy does not permit.

    ``url`` is the URL judged (``None`` when an address or a connection was judged), ``host`` its
    host, ``address`` the offending address (``None`` when the refusal is not about one address:
    a bad scheme, no host, a host that resolves to nothing), ``message`` the reason.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        host: str | None = None,
        address: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.host = host
        self.address = address


class EgressConnectionRefused(requests.exceptions.ConnectionError):
    """A connection of a guarded session refused at connect time; ``refusal`` says why.

    A ``requests.exceptions.ConnectionError``, so code that handles ``requests.RequestException``
    treats it as the connection failure it is.
    """

    def __init__(
        self,
        refusal: EgressRefused,
        *,
        request: PreparedRequest | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(refusal.message, request=request, response=response)
        self.refusal = refusal


def _embedded_ipv4(ip: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, and how, or None."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None


def _category(ip: IPAddress) -> str | None:
    """Why ``ip`` is refused, or None when it is a global unicast address."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not global"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound connections may go: global unicast addresses, and the ``allow`` networks."""

    #: networks permitted although internal (``127.0.0.1/32`` for tests, a partner's network)
    allow: tuple[Network, ...] = ()
    #: how host names (and IP literals) are turned into addresses
    resolver: Resolver = system_resolver

    @classmethod
    def from_setting(cls, raw: str) -> EgressPolicy:
        """A policy allowing comma-separated CIDRs or addresses.

        For example ``"127.0.0.1/32, 10.0.0.0/8, ::1"``. Blank items are ignored; a bad item
        (not a network, or host bits set as in ``10.0.0.1/8``) raises ``ValueError`` naming it.
        """
        networks: list[Network] = []
        for item in raw.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item))
            except ValueError as e:
                raise ValueError(f"egress allow-list item {item!r} is not a network: {e}") from e
        return cls(allow=tuple(networks))

    def _verdict(self, address: str) -> str | None:
        """None when ``address`` is permitted, else what it is ("a loopback address ...").

        Raises ``ValueError`` when ``address`` is not an IP address.
        """
        ip = ipaddress.ip_address(address)
        embedded = _embedded_ipv4(ip)
        mapped = embedded[1] if embedded is not None and embedded[0] == "IPv4-mapped" else None
        if any(ip in net or (mapped is not None and mapped in net) for net in self.allow):
            return None
        if embedded is not None:
            how, ipv4 = embedded
            category = _category(ipv4)
            if category is not None:
                return f"{_ARTICLES[category]} ({how} {ipv4})"
            if how in ("IPv4-mapped", "NAT64"):
                # the connection goes to the IPv4 address, which is fine
                return None
        category = _category(ip)
        return None if category is None else _ARTICLES[category]

    def check_address(self, address: str) -> None:
        """Raise :class:`EgressRefused` unless a connection to ``address`` is permitted."""
        try:
            verdict = self._verdict(address)
        except ValueError:
            raise EgressRefused(
                f"refused {address!r}: not an IP address", host=address, address=address
            ) from None
        if verdict is not None:
            raise EgressRefused(f"refused {address}: {verdict}", host=address, address=address)

    def check_resolved(self, host: str, addresses: list[str], what: str) -> None:
        """Refuse ``what`` unless ``host`` resolved to at least one address, all permitted."""
        if not addresses:
            raise EgressRefused(f"{what} refused: {host} resolves to no address", host=host)
        for address in addresses:
            try:
                verdict = self._verdict(address)
            except ValueError:
                verdict = "not an IP address"
            if verdict is None:
                continue
            if address == host:
                reason = f"{address} is {verdict}"
            else:
                reason = f"{host} resolves to {address}, {verdict}"
            raise EgressRefused(f"{what} refused: {reason}", host=host, address=address)

    def check_url(self, url: str) -> None:
        """Raise :class:`EgressRefused` unless ``url`` may be called (see the module docstring)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise EgressRefused(
                f"egress to {url!r} refused: not a valid URL ({e})", url=url
            ) from None
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise EgressRefused(
                f"egress to {url!r} refused: scheme {parts.scheme!r} is not http or https", url=url
            )
        host = parts.hostname
        if not host:
            raise EgressRefused(f"egress to {url!r} refused: no host", url=url)
        try:
            addresses = self.resolver(host, port if port is not None else _SCHEMES[scheme])
        except (OSError, UnicodeError) as e:
            raise EgressRefused(
                f"egress to {url} refused: {host} does not resolve ({e})", url=url, host=host
            ) from None
        try:
            self.check_resolved(host, addresses, f"egress to {url}")
        except EgressRefused as e:
            raise EgressRefused(e.message, url=url, host=host, address=e.address) from None

    def check_kept(self, url: str) -> None:
        """:meth:`check_url` for a URL kept to be called later (a hub's callback, a partner's
        base URL): a name that does not resolve now is let through, since every connection to
        it is checked when it is opened, but one that resolves to a refused address is not.

        Raises:
            EgressRefused: not an http(s) URL with a host, or a host with a refused address.
        """
        try:
            self.check_url(url)
        except EgressRefused as refused:
            if refused.address is not None or refused.host is None:
                raise

    def session(self) -> requests.Session:
        """A session whose connections are checked against this policy when they are opened
        (``notify.guarded``)."""
        from troubleticket.notify.guarded import guarded_session

        return guarded_session(self)


PUBLIC_ONLY = EgressPolicy()
"""The policy without exceptions: global unicast addresses only."""
