"""Logs: one JSON object a line, nothing secret in them, a caller's mistake logged once at INFO."""

from __future__ import annotations

import json
import logging
import sys

from congress.errors import NotFound
from congress.logs import JsonFormatter, QuietLibraries, current_correlation_id, set_correlation_id


def record(name: str, level: int, msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def test_an_expected_error_is_logged_at_info_without_a_traceback() -> None:
    try:
        raise NotFound("no ballot 'x'")
    except NotFound as exc:
        caught = exc
    nameko = record(
        "nameko.containers", logging.WARNING, "(expected) error handling worker %s: %s", "<w>", caught, exc=caught
    )
    logging.getLogger().setLevel(logging.INFO)
    assert QuietLibraries().filter(nameko)
    line = json.loads(JsonFormatter().format(nameko))
    assert line["level"] == "INFO" and "exc" not in line and "no ballot" in line["message"]


def test_library_debug_records_are_dropped_ours_are_kept() -> None:
    quiet = QuietLibraries()
    for name in ("nameko.rpc", "kombu.connection", "amqp", "eventlet.wsgi"):
        assert not quiet.filter(record(name, logging.DEBUG, "reply %s", {"receipt": "…"}))
        assert quiet.filter(record(name, logging.INFO, "started"))
    assert quiet.filter(record("voting.balloting", logging.DEBUG, "closing"))


def test_secret_shapes_are_redacted_in_messages_and_tracebacks() -> None:
    credential, receipt = "dc_" + "A1b2" * 10, "0123456789abcdef" * 2
    proof = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJnYXRld2F5In0.c2lnbmF0dXJlLXZhbHVl"
    try:
        raise ValueError(f"bad {credential}")
    except ValueError:
        exc_info = sys.exc_info()
    entry = record("gateway", logging.ERROR, "voted %s with %s, proof %s", receipt, credential, proof)
    entry.exc_info = exc_info
    text = JsonFormatter().format(entry)
    for secret in (credential, receipt, proof):
        assert secret not in text
    assert "[redacted]" in text
    uuid_text = "01234567-89ab-cdef-0123-456789abcdef"
    assert uuid_text in JsonFormatter().format(record("voting", logging.INFO, "ballot %s", uuid_text))


def test_each_greenthread_logs_its_own_correlation_id() -> None:
    """Workers interleave (nameko's greenthreads): each line carries its own worker's id, and a
    new greenthread starts with none."""
    import eventlet

    lines: dict[int, list[str | None]] = {}

    def worker(n: int) -> None:
        fresh = current_correlation_id()
        set_correlation_id(f"request-{n}")
        eventlet.sleep(0)  # every other worker runs and sets its own id meanwhile
        line = json.loads(JsonFormatter().format(record("voting", logging.INFO, "cast")))
        lines[n] = [fresh, line.get("correlation_id")]

    set_correlation_id("the caller's")
    threads = [eventlet.spawn(worker, n) for n in range(5)]
    for thread in threads:
        thread.wait()
    assert lines == {n: [None, f"request-{n}"] for n in range(5)}
    assert current_correlation_id() == "the caller's"
    set_correlation_id(None)
