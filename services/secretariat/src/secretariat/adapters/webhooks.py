"""Signed webhook requests (Standard Webhooks headers) over HTTP(S).

http.client rather than a redirect-following client: a webhook that answers 3xx has not
received the event. Cooperative under `nameko run`, like every socket there.

Every send resolves the host once, checks every address it got (congress.contract.hosts: no
loopback, private, link-local, metadata… unless WEBHOOK_ALLOW_PRIVATE_NETWORKS allows it), and
connects to a checked address only; the Host header, TLS SNI and certificate check still use
the URL's host name. A refused host is a failed attempt with the reason; nothing is sent.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from congress.contract import hosts
from secretariat.domain import signing


@dataclass(frozen=True)
class WebhookResult:
    ok: bool
    status: int | None
    error: str | None


def _connect_to_checked(addresses: list[hosts.IPAddress]) -> Any:
    """http.client's socket opener, but to these addresses only: no second resolution of the host
    (DNS rebinding between the check and the connection)."""

    def create_connection(
        address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT, source: Any = None
    ) -> socket.socket:
        error: OSError | None = None
        for checked in addresses:
            try:
                return socket.create_connection((str(checked), address[1]), timeout, source)
            except OSError as exc:
                error = exc
        raise error or OSError("no address to connect to")

    return create_connection


class WebhookPoster:
    def __init__(
        self,
        timeout: float = 10.0,
        user_agent: str = "congress-secretariat/1",
        allow_private_networks: Iterable[hosts.Network] | None = None,
        resolver: hosts.Resolver | None = None,  # None: hosts.resolve (the system's resolver)
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.user_agent = user_agent
        # None: read WEBHOOK_ALLOW_PRIVATE_NETWORKS from the environment, as the API schemas do.
        self.allow_private_networks = None if allow_private_networks is None else tuple(allow_private_networks)
        self.resolver = resolver
        self.ssl_context = ssl_context

    def post(self, url: str, secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> WebhookResult:
        allowed = hosts.allowed_networks() if self.allow_private_networks is None else self.allow_private_networks
        try:
            target, addresses = hosts.addresses_to_connect(url, allowed, self.resolver)
        except hosts.HostRefused as exc:
            return WebhookResult(False, None, f"refused before connecting, nothing sent: {exc}")
        stamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            **signing.headers(secret, msg_id, stamp, body),
        }
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            # The name, not the address: SNI and the certificate check are for the host in the URL.
            connection = http.client.HTTPSConnection(target.host, target.port, timeout=self.timeout, context=context)
        else:
            connection = http.client.HTTPConnection(target.host, target.port, timeout=self.timeout)
        connection._create_connection = _connect_to_checked(addresses)  # type: ignore[attr-defined]
        path = _path(url)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(65536)  # drain a little; the answer's body is not kept
        except (OSError, http.client.HTTPException) as exc:
            return WebhookResult(False, None, f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
        if 200 <= response.status < 300:
            return WebhookResult(True, response.status, None)
        return WebhookResult(False, response.status, f"HTTP {response.status} {response.reason}".strip())


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
