"""An HTTP receiver of webhooks in the test process that checks every request as a careful
subscriber would under Standard Webhooks: a valid `webhook-signature` for the endpoint's
secret(s), a fresh `webhook-timestamp`, and no replay of a request it accepted already (a
sender's retry of a failed attempt may be byte-identical within a second; that is no replay).
A webhook-id accepted before but freshly signed is acknowledged and counted as a duplicate.
Each endpoint (a path) can be told to fail its next N valid requests, or every one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE = 300  # seconds either way, as the Standard Webhooks libraries default to


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Delivery:
    path: str
    msg_id: str
    timestamp: int
    body: dict[str, Any]
    answered: int


@dataclass
class Endpoint:
    secrets: list[str] = field(default_factory=list)
    fail_next: int = 0
    always_fail: bool = False
    accepted: list[Delivery] = field(default_factory=list)  # valid and answered 2xx
    failed: list[Delivery] = field(default_factory=list)  # valid but answered 500 on purpose
    rejected: list[str] = field(default_factory=list)  # why invalid requests were refused
    duplicates: list[Delivery] = field(default_factory=list)  # a webhook-id accepted before, freshly signed


class WebhookReceiver:
    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.lock = threading.Lock()
        self._seen: set[tuple[str, str, str]] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def endpoint(self, name: str, secret: str | None = None) -> Endpoint:
        with self.lock:
            found = self.endpoints.setdefault(f"/hooks/{name}", Endpoint())
            if secret is not None and secret not in found.secrets:
                found.secrets.append(secret)
            return found

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        lowered = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            endpoint = self.endpoints.setdefault(path, Endpoint())
            msg_id = lowered.get("webhook-id", "")
            stamp = lowered.get("webhook-timestamp", "")
            signature = lowered.get("webhook-signature", "")
            why = self._invalid(endpoint, msg_id, stamp, signature, body)
            if why:
                endpoint.rejected.append(why)
                return 400 if why != "replayed" else 409
            delivery = Delivery(path, msg_id, int(stamp), json.loads(body), 200)
            if endpoint.always_fail or endpoint.fail_next > 0:
                endpoint.fail_next = max(0, endpoint.fail_next - 1)
                delivery.answered = 500
                endpoint.failed.append(delivery)
                return 500
            self._seen.add((msg_id, stamp, signature))
            if any(d.msg_id == msg_id for d in endpoint.accepted):
                endpoint.duplicates.append(delivery)  # acknowledged, as an idempotent receiver does
                return 200
            endpoint.accepted.append(delivery)
            return 200

    def _invalid(self, endpoint: Endpoint, msg_id: str, stamp: str, signature: str, body: bytes) -> str | None:
        if not (msg_id and stamp and signature):
            return "missing webhook headers"
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE:
            return "stale or bad timestamp"
        if (msg_id, stamp, signature) in self._seen:
            return "replayed"  # the very request that was accepted already, sent again
        given = [s.partition(",")[2] for s in signature.split() if s.startswith("v1,")]
        for secret in endpoint.secrets:
            wanted = expected_signature(secret, msg_id, stamp, body)
            if any(hmac.compare_digest(wanted, g) for g in given):
                return None
        return "bad signature" if endpoint.secrets else "no secret known for this endpoint"

    def accepted(self, name: str, predicate: Callable[[Delivery], bool] = lambda d: True) -> list[Delivery]:
        with self.lock:
            return [d for d in self.endpoints.get(f"/hooks/{name}", Endpoint()).accepted if predicate(d)]

    def wait_for(
        self, name: str, predicate: Callable[[Delivery], bool], count: int = 1, timeout: float = 30.0
    ) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.accepted(name, predicate)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        endpoint = self.endpoints.get(f"/hooks/{name}")
        raise AssertionError(
            f"{count} webhook(s) not accepted at {name} within {timeout:.0f}s; "
            f"accepted {self.accepted(name)}, rejected {endpoint.rejected if endpoint else None}"
        )

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
