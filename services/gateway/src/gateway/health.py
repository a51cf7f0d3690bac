"""The gateway's readiness: what `/health` says, and whether the broker is away now.

A managed thread of the gateway (no nameko worker) looks every couple of seconds: is the
gateway's own broker connection up (its RPC reply consumer is consuming), and does each backend
answer a `ping` over RPC. `/health` is answered from the last look by the HTTP edge before any
route runs (gateway/http.py), so it answers at once under a flood of votes or during a broker
outage, and says what is down: `{"status": "degraded", "services": {...}, "broker":
"unreachable"}` with 503. The edge also asks `broker_down()` to refuse at once (503 with
Retry-After) a request that needs a service while the broker is away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import eventlet
from eventlet.queue import Empty, LightQueue
from marshmallow import fields, validate
from nameko.extensions import DependencyProvider

from congress.contract import api as bodies
from congress.messaging.nameko_edge import SteadyReplyListener, standalone_proxy
from congress.rpc import BrokerUnavailable, ServiceUnavailable, call
from congress.version import __version__
from gateway.http import JsonWebServer

log = logging.getLogger(__name__)

OK = "ok"
UNREACHABLE = "unreachable"
INTERVAL = 2.0  # seconds between two looks while all is well
INTERVAL_DOWN = 0.5  # while something is down: notice its return soon
PING_TIMEOUT = 3.0
STALE_AFTER = 3 * INTERVAL + PING_TIMEOUT  # a look older than this says nothing any more


class HealthView(bodies.HealthView):
    """The contract's health answer, with the broker as the gateway sees it."""

    broker = fields.String(
        required=True,
        validate=validate.OneOf((OK, UNREACHABLE)),
        metadata={"description": "the gateway's connection to the message broker"},
    )


@dataclass(frozen=True)
class Look:
    at: float  # time.monotonic()
    services: dict[str, str] = field(default_factory=dict)  # backend -> "ok", or why not


class HealthMonitor(DependencyProvider):
    """The gateway's look at the broker and the backends; workers get the monitor itself."""

    reply_listener = SteadyReplyListener()  # the gateway's own (shared with its RpcProxies)
    web_server = JsonWebServer()  # the gateway's HTTP server (shared with its routes)

    def __init__(self, backends: Sequence[str], interval: float = INTERVAL, ping_timeout: float = PING_TIMEOUT) -> None:
        self.backends = tuple(backends)
        self.interval = interval
        self.ping_timeout = ping_timeout
        self.look = Look(at=time.monotonic(), services=dict.fromkeys(self.backends, "not checked yet"))
        self._running = False
        self._wake: LightQueue = LightQueue(maxsize=1)

    def setup(self) -> None:
        self.web_server.readiness = self

    def start(self) -> None:
        self._running = True
        self.container.spawn_managed_thread(self._look_forever, identifier="health.monitor")

    def stop(self) -> None:
        self._running = False
        try:
            self._wake.put_nowait(True)
        except eventlet.queue.Full:
            pass

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> HealthMonitor:
        return self

    # What the edge asks

    def broker_down(self) -> bool:
        return not self.reply_listener.queue_consumer.connected

    def health(self) -> tuple[int, dict[str, Any]]:
        look, now = self.look, time.monotonic()
        broker = UNREACHABLE if self.broker_down() else OK
        services = dict(look.services)
        if now - look.at > STALE_AFTER:
            services = {name: f"not checked for {now - look.at:.0f}s" for name in services}
        healthy = broker == OK and all(state == OK for state in services.values())
        body = {"status": OK if healthy else "degraded", "version": __version__, "services": services, "broker": broker}
        return (200 if healthy else 503), body

    # The look

    def look_now(self) -> Look:
        if self.broker_down():
            services = dict.fromkeys(self.backends, "unknown: the broker is unreachable")
        else:
            pool = eventlet.GreenPool(len(self.backends))
            services = dict(zip(self.backends, pool.imap(self._ping, self.backends), strict=True))
        self.look = Look(at=time.monotonic(), services=services)
        return self.look

    def _ping(self, backend: str) -> str:
        for attempt in (1, 2):
            try:
                call(
                    standalone_proxy(self.container, backend, self.reply_listener, "health").ping,
                    timeout=self.ping_timeout,
                )
                return OK
            except BrokerUnavailable as exc:
                # Right after the broker's return a pooled connection may still be the broken one.
                if attempt == 2 or self.broker_down():
                    return str(exc)
            except ServiceUnavailable as exc:
                return str(exc)
            except Exception as exc:  # a refusal or a bug in the backend: down all the same
                return f"{type(exc).__name__}: {exc}"
        return "unreachable"

    def _look_forever(self) -> None:
        was_healthy: bool | None = None
        while self._running:
            try:
                self.look_now()
                status, body = self.health()
            except Exception:  # never take the gateway down for a look
                log.exception("health: the look failed")
                status, body = 503, {}
            healthy = status == 200
            if healthy != was_healthy and was_healthy is not None:
                level = logging.INFO if healthy else logging.WARNING
                log.log(
                    level, "health: %s (broker %s; %s)", body.get("status"), body.get("broker"), body.get("services")
                )
            was_healthy = healthy
            try:
                self._wake.get(timeout=self.interval if healthy else INTERVAL_DOWN)
            except Empty:
                pass
