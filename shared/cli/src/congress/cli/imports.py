"""CSV imports: every row checked before any is sent; then the rows one request each.

All rows or none holds for what can be checked before sending (the columns, each value against
the API's own request schema, duplicates within the file, what the API already says about the
target): one bad row and nothing is sent, each bad row named on a line of its own. The API has no
batch endpoint, so a refusal while sending (a full allocation, say) stops the import there: what
went in is listed, with the refused line and those not sent, and `--from-line` resumes.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from congress.cli.client import EXIT_FAILED, CliError, InvalidRows, UsageProblem
from congress.cli.output import print_json, table


@dataclass
class Row:
    line: int
    values: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


def read_rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[Row]:
    """The file's data rows (blank ones skipped), each with the values of its known columns."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageProblem(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    reader = csv.reader(text.splitlines())
    header = [column.strip().lower() for column in next(reader, [])]
    wanted = ",".join(required) + "".join(f"[,{c}]" for c in optional)
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required + optional]
    if missing or unknown:
        said = "; ".join(
            filter(None, (missing and f"no {', '.join(missing)} column", unknown and f"unknown {', '.join(unknown)}"))
        )
        raise UsageProblem(f"{path}:1: the header must name the columns {wanted} ({said})")
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            rows.append(Row(line, {"_columns": f"{len(cells)} columns where the header has {len(header)}"}))
            continue
        cells = cells + [""] * (len(header) - len(cells))
        rows.append(Row(line, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}))
    if not rows:
        raise UsageProblem(f"{path}: no rows under the header")
    return rows


def schema_problems(schema: Any, payload: dict[str, Any]) -> list[str]:
    """What the API's own request schema says of a payload: `field: message` each."""
    from congress.cli.client import flatten_fields

    return [f"{name}: {text}" for name, text in flatten_fields(schema.validate(payload))]


def check_rows(path: Path, rows: list[Row], check: Callable[[Row], list[str]]) -> None:
    """Every row's problems, one line each: InvalidRows (exit 2, nothing sent) if there are any."""
    problems = []
    bad = 0
    for row in rows:
        said = [row.values["_columns"]] if "_columns" in row.values else check(row)
        problems += [f"{path}:{row.line}: {text}" for text in said]
        bad += bool(said)
    if problems:
        problems.append(f"{path}: {bad} of {len(rows)} rows are invalid; nothing was sent")
        raise InvalidRows(problems)


def first_seen(rows: list[Row], key: Callable[[Row], str | None], what: str) -> dict[int, str]:
    """Line → problem, for rows repeating a key (an email, a member) of an earlier row."""
    seen: dict[str, int] = {}
    repeats = {}
    for row in rows:
        value = key(row)
        if not value:
            continue
        if value in seen:
            repeats[row.line] = f"the same {what} as line {seen[value]}"
        else:
            seen[value] = row.line
    return repeats


def lines_text(lines: list[int]) -> str:
    """[2, 3, 4, 7] → "2-4, 7"."""
    spans: list[list[int]] = []
    for line in lines:
        if spans and line == spans[-1][1] + 1:
            spans[-1][1] = line
        else:
            spans.append([line, line])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans) or "none"


def send_rows(
    path: Path,
    rows: list[Row],
    send: Callable[[Row], dict[str, Any]],
    columns: tuple[tuple[str, Callable[[Row, dict[str, Any]], Any]], ...],
    as_json: bool,
    what: str,
) -> None:
    """Send the rows in order; print what went in; on a refusal stop and say which rows did not."""
    done: list[tuple[Row, dict[str, Any]]] = []
    progress = _Progress(len(rows), what) if sys.stderr.isatty() and not as_json else None
    failure: CliError | None = None
    failed_row: Row | None = None
    try:
        for row in rows:
            try:
                done.append((row, send(row)))
            except CliError as exc:
                failure, failed_row = exc, row
                break
            if progress:
                progress.advance()
    finally:
        if progress:
            progress.stop()
    not_sent = [r.line for r in rows[len(done) + 1 :]] if failed_row else []
    if as_json:
        report: dict[str, Any] = {"file": str(path), "imported": [{"line": r.line, **a} for r, a in done]}
        if failure is not None and failed_row is not None:
            report["refused"] = {"line": failed_row.line, "error": str(failure)}
            report["not_sent"] = not_sent
        print_json(report)
    elif done:
        table(("line", *(name for name, _ in columns)), [(r.line, *(get(r, a) for _, get in columns)) for r, a in done])
    if failure is None or failed_row is None:
        if not as_json:
            print(f"imported {len(done)} {what} from {path}")
        return
    went_in = lines_text([r.line for r, _ in done])
    maybe = " (it may or may not have gone in)" if failure.exit_code == EXIT_FAILED else ""
    raise type(failure)(
        f"{path}:{failed_row.line}: {failure}{maybe}; went in: lines {went_in}; "
        f"not sent: lines {lines_text(not_sent)}; resume with --from-line {failed_row.line}"
    )


class _Progress:
    """A bar on stderr while the rows go in, only on a terminal (Rich, imported here)."""

    def __init__(self, total: int, what: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(
            TextColumn(f"importing {what}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.bar.add_task(what, total=total)
        self.bar.start()

    def advance(self) -> None:
        self.bar.advance(self.task)

    def stop(self) -> None:
        self.bar.stop()


def starting_at(rows: list[Row], start: int | None) -> list[Row]:
    return [r for r in rows if start is None or r.line >= start]
