"""The relay process's report pipe: its figures reach the service's /metrics, whole and in order."""

from __future__ import annotations

import logging
import os

import pytest

from congress.messaging.relay import RelayReport
from congress.messaging.relay_process import PipeReport, _log_level, apply_report


class Recorder(RelayReport):
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def pending(self, count: int) -> None:
        self.seen.append(("pending", count))

    def published(self, by_type: dict[str, int]) -> None:
        self.seen.append(("published", by_type))


def test_figures_cross_the_pipe_as_they_were_reported() -> None:
    read_end, write_end = os.pipe()
    try:
        report = PipeReport(write_end)
        report.pending(250)
        report.published({"vote.recorded": 200, "ballot.closed": 1})
        report.pending(0)
        lines = os.read(read_end, 65536).split(b"\n")
    finally:
        os.close(read_end)
        os.close(write_end)
    assert lines[-1] == b""  # every line whole
    recorder = Recorder()
    for line in lines[:-1]:
        apply_report(line, recorder)
    assert recorder.seen == [
        ("pending", 250),
        ("published", {"vote.recorded": 200, "ballot.closed": 1}),
        ("pending", 0),
    ]


@pytest.mark.parametrize("line", [b"", b"not json", b"[1]", b'{"pending": "many"}', b'{"published": 3}', b"{}"])
def test_an_unreadable_line_is_logged_and_changes_nothing(line: bytes, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.WARNING):
        apply_report(line, recorder)
    assert recorder.seen == []
    assert "unreadable report line" in caplog.text


def test_the_log_level_is_read_as_the_service_reads_it() -> None:
    assert [_log_level(text) for text in ("debug", "WARNING", "10", " 20 ", "")] == ["DEBUG", "WARNING", 10, 20, "INFO"]
