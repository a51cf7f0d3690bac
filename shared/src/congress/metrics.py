"""Prometheus metrics every service exposes (spec section 4: /metrics on every service).

The gateway serves them on its own port at /metrics; the other services, which have no HTTP
port (voting runs as N replicas), serve them when METRICS_PORT is set: `<SERVICE>_METRICS_PORT` if
given, else METRICS_PORT plus the service's offset (sections +0, voting +1, secretariat +2). On one
host a replica whose port is taken moves up by 3 until one is free, and says where it went.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest, start_http_server

log = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter(
    "congress_events_published_total", "Events the outbox relay published, confirmed by the broker", ["type"]
)
EVENTS_HANDLED = Counter(
    "congress_events_handled_total",
    "Events consumed, by outcome: applied, duplicate (dropped by the inbox) or dead_lettered",
    ["consumer", "type", "outcome"],
)
VOTES_GATHERED = Histogram(
    "congress_votes_gathered",
    "Delegates' votes the gateway sent to voting in one call (gateway/gathering.py)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
RELAY_RESTARTS = Counter(
    "congress_relay_restarts_total", "Times the service started its relay process again after it exited"
)
OUTBOX_PENDING = Gauge("congress_outbox_pending", "Committed events not yet confirmed by the broker")

_serving = False
OFFSETS = {"sections": 0, "voting": 1, "secretariat": 2}
STEP = len(OFFSETS)  # replicas of one service on one host take every third port
TRIES = 16


def metrics_port(service: str) -> int:
    """The first port to try, or 0 when metrics are off."""
    own = os.environ.get(f"{service.upper()}_METRICS_PORT")
    if own:
        return int(own)
    base = int(os.environ.get("METRICS_PORT") or 0)
    return base + OFFSETS.get(service, 0) if base else 0


def serve_if_configured(service: str) -> int | None:
    """Start the metrics listener once per process if configured; the port it took, or None."""
    global _serving
    first = metrics_port(service)
    if not first or _serving:
        return None
    for port in range(first, first + STEP * TRIES, STEP):
        try:
            start_http_server(port)
        except OSError:
            continue  # another service or replica on this host has it
        _serving = True
        log.info("metrics on :%d/metrics", port)
        return port
    log.warning("metrics: no free port from %d on (every %dth); serving none", first, STEP)
    return None


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
