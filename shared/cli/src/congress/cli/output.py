"""What the command line prints: `key: value` lines, tables (Rich, imported on first use), JSON.

Tables keep one shape whether or not stdout is a terminal: a header, a line of dashes, then the
rows, columns two or more spaces apart, so they read well and `awk` still splits them. Off a
terminal nothing wraps and nothing is coloured.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

Columns = tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]
Printer = Callable[[Any], None]


def show(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, list):
        if any(isinstance(item, dict | list) for item in value):
            return json.dumps(value, ensure_ascii=False)
        return ", ".join(map(str, value)) or "–"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def when(value: str | None) -> str:
    """An ISO timestamp to the minute, for tables (the --json output keeps it exact)."""
    if not value:
        return "–"
    text = value.replace("T", " ")[:16]
    return text + " UTC" if value.endswith(("+00:00", "Z")) else text


def yes_no(value: Any) -> str:
    return "yes" if value else "no"


def print_json(value: Any, indent: int | None = 2) -> None:
    json.dump(value, sys.stdout, indent=indent, ensure_ascii=False)
    print()


def print_fields(obj: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    keys = [k for k in obj if k not in skip]
    width = max((len(k) for k in keys), default=0) + 1
    for key in keys:
        print(f"{key + ':':<{width}} {show(obj[key])}")


def print_rows(items: list[dict[str, Any]], columns: Columns, empty: str, numeric: tuple[int, ...] = ()) -> None:
    if not items:
        print(empty)
        return
    rows = [tuple(show(get(item)) for _, get in columns) for item in items]
    table(tuple(name for name, _ in columns), rows, numeric=numeric)


_console: Any = None


def console() -> Any:
    """One Rich console for stdout: no markup (a name with [brackets] is printed as it is)."""
    global _console
    if _console is None:
        from rich.console import Console

        terminal = sys.stdout.isatty()
        _console = Console(
            markup=False,
            highlight=False,
            emoji=False,
            soft_wrap=False,
            # Off a terminal, no width to fit: a table a script reads must not wrap.
            width=None if terminal else 100_000,
        )
    return _console


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: tuple[int, ...] = ()) -> None:
    from rich.box import Box
    from rich.table import Table

    # Only a line of dashes under the header; the cross is a space, so the dashes show the columns.
    dashes = Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)
    out = console()
    grid = Table(box=dashes, show_edge=False, pad_edge=False, header_style="bold" if out.is_terminal else None)
    for i, name in enumerate(header):
        grid.add_column(str(name), justify="right" if i in numeric else "left")
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    with out.capture() as captured:
        out.print(grid)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
