"""Signed webhook requests (Standard Webhooks headers) over HTTP(S).

http.client rather than a redirect-following client: a webhook that answers 3xx has not
received the event. Cooperative under `nameko run`, like every socket there.
"""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from secretariat.domain import signing


@dataclass(frozen=True)
class WebhookResult:
    ok: bool
    status: int | None
    error: str | None


class WebhookPoster:
    def __init__(self, timeout: float = 10.0, user_agent: str = "congress-secretariat/1") -> None:
        self.timeout = timeout
        self.user_agent = user_agent

    def post(self, url: str, secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> WebhookResult:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return WebhookResult(False, None, f"not an http(s) URL: {url!r}")
        stamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            **signing.headers(secret, msg_id, stamp, body),
        }
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
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
