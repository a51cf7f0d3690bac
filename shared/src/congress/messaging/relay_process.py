"""The outbox relay in a process of its own, beside the service's (PostgreSQL stores).

Inside a busy voting replica the relay is one greenthread among the batches being cast: each step
of its cycle waits for the hub to come round, and under a full hall its events waited hundreds of
milliseconds for it. As a process of its own the operating system runs it as soon as a commit wakes
it; it needs little CPU, so it is rarely kept waiting.

The service's process starts it and is its only link:
- a doorbell pipe, service to relay: a byte per commit wakes it; end of file (the service stopped
  or died) stops it after the cycle in hand;
- a report pipe, relay to service: one JSON line per figure (events pending, events published by
  type), which the service adds to its own /metrics.

The relay also dies with the service (PR_SET_PDEATHSIG), so a `kill -9` of a replica takes its relay
with it and the lock it may hold; a standby takes over as before. A standby relay (another replica
leads) drains the rings without acting on them, and stops at end of file all the same. Secrets
reach it in its environment, never in its command line.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import select
import signal
import sys
import time
from typing import Any

from congress.messaging.relay import EventPublisher, OutboxRelay, RelayReport, relay_forever

log = logging.getLogger(__name__)

ENV_DATABASE_URL = "RELAY_DATABASE_URL"
ENV_AMQP_URI = "RELAY_AMQP_URI"
ENV_POLL_INTERVAL = "RELAY_POLL_INTERVAL"
_PR_SET_PDEATHSIG = 1


class PipeReport(RelayReport):
    """The relay's figures as JSON lines on the report pipe, for the service's /metrics."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def _send(self, figure: dict[str, Any]) -> None:
        line = (json.dumps(figure, separators=(",", ":")) + "\n").encode()
        os.write(self.fd, line)  # a line is far below PIPE_BUF: written whole

    def pending(self, count: int) -> None:
        self._send({"pending": count})

    def published(self, by_type: dict[str, int]) -> None:
        self._send({"published": dict(by_type)})


def apply_report(line: bytes, report: RelayReport) -> None:
    """One line from the report pipe, added to this process's figures; a bad line is logged."""
    try:
        figure = json.loads(line)
        if "pending" in figure:
            report.pending(int(figure["pending"]))
        elif "published" in figure:
            report.published({str(k): int(v) for k, v in figure["published"].items()})
        else:
            raise ValueError("no figure")
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("relay process: unreadable report line (%s)", exc)


def command(service: str, wake_fd: int, report_fd: int) -> list[str]:
    """The relay process's command line (no secrets in it: those go in its environment)."""
    return [sys.executable, "-m", __name__, service, str(wake_fd), str(report_fd), str(os.getpid())]


def _die_with(parent: int) -> None:
    """SIGKILL when the parent dies (Linux); elsewhere the doorbell's end of file stops us."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the prctl took effect
        os._exit(0)


def _log_level(text: str) -> int | str:
    """LOG_LEVEL as the service reads it: a name in any case, or a number."""
    text = text.strip() or "INFO"
    return int(text) if text.isdigit() else text.upper()


def _configure_logging() -> None:
    from congress.logs import JsonFormatter, QuietLibraries

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(QuietLibraries())
    try:
        logging.basicConfig(level=_log_level(os.environ.get("LOG_LEVEL", "")), handlers=[handler])
    except ValueError:  # a level the service would refuse too: say so, and relay anyway
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        log.warning("relay process: LOG_LEVEL=%r is not a level; INFO instead", os.environ.get("LOG_LEVEL"))


def main(argv: list[str] | None = None) -> int:
    service, wake_text, report_text, parent_text = argv if argv is not None else sys.argv[1:]
    wake_fd, report_fd = int(wake_text), int(report_text)
    _die_with(int(parent_text))
    _configure_logging()
    running = True

    def stop(*_: Any) -> None:
        nonlocal running
        running = False

    # The service stops us: end of file on the doorbell. A TERM ends the cycle in hand first, never
    # in the middle of a batch; a terminal's Ctrl-C is the service's to act on, not ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)

    def doorbell(seconds: float) -> None:
        """Up to `seconds` for a ring; end of file (the service stopped, or is gone) stops us."""
        nonlocal running
        ready, _, _ = select.select([wake_fd], [], [], max(seconds, 0.0))
        if ready and not os.read(wake_fd, 65536):
            running = False

    def rest(seconds: float) -> None:
        """A standby's pause: rings are drained, not obeyed (they would make it try for the lead at
        every commit), but end of file ends it at once."""
        deadline = time.monotonic() + seconds
        while running and (left := deadline - time.monotonic()) > 0:
            doorbell(left)

    from congress.messaging.store import make_engine

    engine = make_engine(os.environ[ENV_DATABASE_URL])
    relay = OutboxRelay(engine, EventPublisher(os.environ[ENV_AMQP_URI], service), report=PipeReport(report_fd))
    log.info("relay process for %s started", service)
    try:
        relay_forever(relay, doorbell, rest, lambda: running, float(os.environ.get(ENV_POLL_INTERVAL, "0.5")))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
