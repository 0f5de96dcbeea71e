"""Where Textcast may send requests: the one outbound address guard.

Provider endpoints and API roots are typed in by users. Without a guard, "Send test" would fetch
anything the server can reach (a database on 127.0.0.1:5432, the cloud metadata service at
169.254.169.254, an admin panel on the private network) and show the answer. So a host is resolved
and refused when any of its addresses is not a public unicast one: loopback, private, shared
(100.64/10), link-local (metadata services), multicast, reserved, unspecified, in IPv4 or IPv6,
IPv4-mapped IPv6 included. Resolving catches the odd spellings of 127.0.0.1 too (0x7f000001,
2130706433, 0177.0.0.1): the resolver reads them as the address they stand for.

It is checked twice: when a form saves a URL (`check_url`, a field error), and on every
connection, against the address actually connected to (`GuardedAdapter` for requests,
`check_peer` for the bulk sender's own sockets), because DNS can answer differently later.

Settings open it explicitly: OUTBOUND_ALLOW_PRIVATE_NETWORKS=true allows every address (the tests;
a deployment whose providers live on its private network), OUTBOUND_ALLOWED_HOSTS allows some
hosts, as written in the URL, with or without a port (`make run` allows its sandbox that way).
Behind an outbound HTTP proxy (HTTPS_PROXY) the connection checked is the proxy's: the form check
still applies, and the proxy should refuse internal destinations itself.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

# NAT64's well-known prefix carries an IPv4 address in its last 32 bits.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IETF protocol assignments, which Python counts as global only in part; Oracle Cloud's metadata
# service is 192.0.0.192.
PROTOCOL_ASSIGNMENTS = ipaddress.ip_network("192.0.0.0/24")


class AddressRefused(ValueError):
    """The destination is not a public address and the settings do not allow it."""


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    if ip.version == 6:
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.version == 4 and ip in PROTOCOL_ASSIGNMENTS:  # (`in` ignores the version)
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


def host_allowed(host: str, port: int | None) -> bool:
    """Whether the settings let us reach `host` whatever it resolves to."""
    if getattr(settings, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", False):
        return True
    host = host.strip("[]").lower()
    for entry in getattr(settings, "OUTBOUND_ALLOWED_HOSTS", []):
        allowed_host, allowed_port = _host_and_port(entry)
        if allowed_host == host and (not allowed_port or allowed_port == str(port)):
            return True
    return False


def _host_and_port(entry: str) -> tuple[str, str]:
    """"sms.internal:8443" → ("sms.internal", "8443"); "[::1]:80" → ("::1", "80"); "::1" → ("::1", "")."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest.lstrip(":")
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return entry, ""


def check_peer(address: str, host: str, port: int | None) -> None:
    """Raise AddressRefused unless we may talk to `address`, which `host` resolved to."""
    if not address_is_public(address) and not host_allowed(host, port):
        raise AddressRefused(f"{host} is {address}, a loopback, private, link-local or otherwise non-public "
                             f"address; requests to it are refused (see OUTBOUND_ALLOWED_HOSTS).")


def check_host(host: str, port: int | None) -> None:
    """Resolve `host` and refuse it if any of its addresses is not public. A name that does not
    resolve passes: there is nothing to refuse yet, and the connection is checked again anyway."""
    if host_allowed(host, port):
        return
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return
    for info in infos:
        check_peer(info[4][0], host, port)


def check_url(url: str) -> None:
    """check_host for a URL's host; for forms (raises AddressRefused with a message for the field)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise AddressRefused("The port is not a number between 0 and 65535.") from None
    if parts.hostname:
        check_host(parts.hostname, port or (443 if parts.scheme == "https" else 80))


def destination(url: str) -> tuple[str, int | None]:
    """(host, port) a URL sends to; secrets saved for one destination must not go to another."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").rstrip("."), port or {"https": 443, "http": 80}.get(parts.scheme.lower())


class _Guarded:
    """Checks the address a new connection reached before a byte of the request is written."""

    def _new_conn(self):
        sock = super()._new_conn()
        try:
            check_peer(sock.getpeername()[0], self.host, self.port)
        except AddressRefused as exc:
            sock.close()
            raise RefusedConnection(self, str(exc)) from None
        return sock


class RefusedConnection(NewConnectionError):
    """urllib3's "could not connect" (so nothing is treated as possibly sent), for a refused address."""

    def __init__(self, conn, message: str):
        super().__init__(conn, message)
        self.refusal = message


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections are checked by `check_peer`. Mount it for http:// and
    https:// on any Session that talks to a user-supplied URL."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool,
                                                   "https": GuardedHTTPSConnectionPool}


def refused(exc: BaseException) -> str | None:
    """The guard's reason if a requests/urllib3 error is a refused address, else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, RefusedConnection):
            return exc.refusal
        reason = getattr(exc, "reason", None)
        exc = reason if isinstance(reason, BaseException) else (exc.args[0] if exc.args and
                                                                  isinstance(exc.args[0], BaseException) else None)
    return None
