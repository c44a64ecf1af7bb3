"""Where webhooks may go, and the one HTTP request that carries a delivery.

Server-side request forgery: a merchant must not make the platform call its own database, the
cloud's metadata service or anything else on a private network. Every address the endpoint's
host resolves to must be public (``ipaddress``'s ``is_global``, so private, loopback,
link-local, shared, reserved and documentation ranges are all refused, IPv4-mapped IPv6
included); this is checked when the endpoint is saved and again before every request, and the
request then connects to an address that was just checked (never resolving the name a second
time, which a rebinding DNS server could answer differently). Redirects are not followed: a
3xx is a failed attempt like any other non-2xx answer. ``WEBHOOKS_ALLOW_PRIVATE_NETWORKS=True``
lifts the address check for development and tests.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

RESPONSE_EXCERPT_BYTES = 2048  # read at most this much of an answer
USER_AGENT = "LoyaltyPlatform-Webhooks/1.0"


class UnsafeDestination(Exception):
    """The URL is not one the platform will call; ``str()`` says why, for people."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to stay off the network)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def destination(url: str, *, allow_private: bool | None = None) -> Destination:
    """Parse and vet ``url``: resolve its host and check every address (raises
    ``UnsafeDestination``)."""
    if allow_private is None:
        allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeDestination("The URL is not valid.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeDestination("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise UnsafeDestination("Credentials in the URL are not allowed; use the signature.")
    host = parts.hostname
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise UnsafeDestination(f"The host {host} could not be resolved.") from None
    if not addresses:
        raise UnsafeDestination(f"The host {host} could not be resolved.")
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeDestination(
                f"The host {host} resolves to a private, loopback or link-local address "
                f"({refused[0]}); webhooks only go to public addresses."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Destination(parts.scheme, host, port, path, tuple(addresses))


@dataclass(frozen=True)
class Answer:
    status: int | None
    body: bytes
    latency_ms: int
    error: str = ""


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a vetted address while speaking to the host by name."""

    def __init__(self, address: str, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: str, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Destination, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
    """POST ``body`` to ``target``, giving up after ``timeout`` seconds in all (a receiver that
    answers a byte at a time is cut off too); never raises for a network failure: the
    ``Answer`` carries the error instead."""
    started = time.monotonic()
    address = target.addresses[0]
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
            address, target.host, target.port, timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        conn = _PinnedHTTPConnection(address, target.host, target.port, timeout=timeout)
    expired = threading.Event()

    def cut_off() -> None:
        expired.set()
        if conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    deadline = threading.Timer(timeout, cut_off)
    deadline.daemon = True
    deadline.start()
    try:
        conn.request("POST", target.path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers,
        })
        response = conn.getresponse()
        status = response.status
        data = response.read(RESPONSE_EXCERPT_BYTES)
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set() or isinstance(error, TimeoutError):
            return Answer(None, b"", _ms(started), f"No answer within {timeout:g} s.")
        return Answer(None, b"", _ms(started), _network_error(error))
    finally:
        deadline.cancel()
        conn.close()
    return Answer(status, data, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _network_error(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or error}"[:255]
    if isinstance(error, ConnectionRefusedError):
        return "Connection refused."
    return f"{type(error).__name__}: {error}"[:255]
