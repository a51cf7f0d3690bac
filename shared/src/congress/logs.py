"""Structured logs: one JSON object a line, carrying the correlation id where there is one."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

# Per worker: under `nameko run` threading is monkey-patched, so this is greenthread-local.
_current = threading.local()


def set_correlation_id(correlation_id: str | None) -> None:
    _current.correlation_id = correlation_id


def current_correlation_id() -> str | None:
    return getattr(_current, "correlation_id", None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = getattr(record, "correlation_id", None) or current_correlation_id()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
