"""Prometheus metrics every service exposes (spec section 4: /metrics on every service).

The gateway serves them on its own port at /metrics; the other services, which have no HTTP
port (voting runs as N replicas), serve them on METRICS_PORT when it is set.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest, start_http_server

log = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter(
    "congress_events_published_total", "Events the outbox relay published, confirmed by the broker", ["type"]
)
EVENTS_HANDLED = Counter(
    "congress_events_handled_total",
    "Events consumed, by outcome: applied, duplicate (dropped by the inbox) or dead_lettered",
    ["consumer", "type", "outcome"],
)
OUTBOX_PENDING = Gauge("congress_outbox_pending", "Committed events not yet confirmed by the broker")

_serving = False


def serve_if_configured() -> None:
    """Start the metrics listener once per process if METRICS_PORT is set (and not 0)."""
    global _serving
    port = int(os.environ.get("METRICS_PORT") or 0)
    if port and not _serving:
        start_http_server(port)
        _serving = True
        log.info("metrics on :%d/metrics", port)


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
