"""Reader for the BLT ballot format (as used by OpenSTV, the ERS and David Hill's programs).

    5 2                 candidates, seats
    -3                  optional: withdrawn candidates, as negative numbers
    11 5 4 2 0          a weight (how many such ballots), candidate numbers (1-based) in order, 0
    4 1 2 3 0
    0                   end of the ballots
    "Adam"              one quoted name per candidate, in number order
    ...
    "Example"           the title

`#` starts a comment (outside quotes); blank lines are ignored. Equal rankings (`=`) are not
supported. Every error names the file and the line: `FILE:4: ballot line does not end with 0`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from congress_counting.stv import RankedBallot


class BltError(ValueError):
    """The file is not a BLT file we can read; the message names the line."""


class Blt(NamedTuple):
    title: str
    candidates: tuple[str, ...]
    seats: int
    withdrawn: tuple[str, ...]
    ballots: tuple[RankedBallot, ...]


def read_blt(path: str | Path) -> Blt:
    """Read a BLT file; BltError (naming the line) if it is malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BltError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BltError(f"{path}: not a BLT file (not UTF-8 text)") from None
    return parse_blt(text, str(path))


def parse_blt(text: str, source: str = "<blt>") -> Blt:
    lines = [(number, _uncomment(raw).strip()) for number, raw in enumerate(text.splitlines(), start=1)]
    lines = [(number, line) for number, line in lines if line]
    last = len(text.splitlines()) or 1

    def error(number: int, message: str) -> BltError:
        return BltError(f"{source}:{number}: {message}")

    if not lines:
        raise error(1, "empty file: expected the header 'candidates seats'")
    at = 0
    number, header = lines[at]
    fields = header.split()
    if len(fields) != 2 or not all(_is_int(f) for f in fields):
        raise error(number, f"the header must be two whole numbers, 'candidates seats', not {header!r}")
    count, seats = int(fields[0]), int(fields[1])
    if count < 1 or seats < 1:
        raise error(number, f"the header needs at least 1 candidate and 1 seat, not {header!r}")
    at += 1

    withdrawn_numbers: list[int] = []
    if at < len(lines) and lines[at][1].startswith("-"):
        number, line = lines[at]
        for field in line.split():
            if not _is_int(field) or int(field) >= 0:
                raise error(number, f"the withdrawn line must hold negative candidate numbers only, not {field!r}")
            k = -int(field)
            if k > count:
                raise error(number, f"withdrawn candidate {k} is out of range (1 to {count})")
            if k in withdrawn_numbers:
                raise error(number, f"candidate {k} is withdrawn twice")
            withdrawn_numbers.append(k)
        at += 1

    rankings: list[tuple[int, tuple[int, ...], int]] = []  # (line, candidate numbers, weight)
    closed = False
    while at < len(lines):
        number, line = lines[at]
        at += 1
        if line.startswith('"'):
            raise error(number, "missing the closing 0 line after the ballots (found a name instead)")
        fields = line.split()
        if fields == ["0"]:
            closed = True
            break
        if "=" in line:
            raise error(number, "equal rankings ('=') are not supported")
        for field in fields:
            if not _is_int(field):
                raise error(number, f"ballot line has {field!r}, not a whole number")
        if fields[-1] != "0" or len(fields) < 2:
            raise error(number, "ballot line does not end with 0")
        weight = int(fields[0])
        if weight < 1:
            raise error(number, f"ballot weight must be at least 1, not {weight}")
        ranked: list[int] = []
        for field in fields[1:-1]:
            k = int(field)
            if k == 0:
                raise error(number, "0 before the end of the ballot line")
            if not 1 <= k <= count:
                raise error(number, f"candidate number {k} is out of range (1 to {count})")
            if k in ranked:
                raise error(number, f"candidate {k} is ranked twice")
            ranked.append(k)
        rankings.append((number, tuple(ranked), weight))
    if not closed:
        raise error(last, "the file ends before the closing 0 line after the ballots")

    strings: list[tuple[int, str]] = []
    while at < len(lines):
        number, line = lines[at]
        at += 1
        names = _quoted(line)
        if names is None:
            expected = "a candidate name" if len(strings) < count else "the title"
            raise error(number, f"expected {expected} in double quotes, not {line!r}")
        strings.extend((number, name) for name in names)
    if len(strings) < count:
        raise error(last, f"expected {count} candidate names after the ballots, found {len(strings)}")
    if len(strings) == count:
        raise error(last, "the title (a quoted line after the names) is missing")
    if len(strings) > count + 1:
        raise error(strings[count + 1][0], "unexpected text after the title")
    names = [name for _, name in strings[:count]]
    for k, (number, name) in enumerate(strings[:count]):
        if not name:
            raise error(number, f"candidate {k + 1} has an empty name")
        if name in names[:k]:
            raise error(number, f"candidate name {name!r} appears twice")
    title = strings[count][1]
    ballots = tuple(RankedBallot(tuple(names[k - 1] for k in ranked), weight) for _, ranked, weight in rankings)
    return Blt(title, tuple(names), seats, tuple(names[k - 1] for k in withdrawn_numbers), ballots)


def write_blt(title: str, candidates: list[str] | tuple[str, ...], seats: int, ballots: list[RankedBallot]) -> str:
    """The BLT text for a set of ballots (no withdrawals): for test data and round trips."""
    number = {name: k for k, name in enumerate(candidates, start=1)}
    lines = [f"{len(candidates)} {seats}"]
    lines.extend(" ".join([str(b.weight), *(str(number[c]) for c in b.ranking), "0"]) for b in ballots)
    lines.append("0")
    lines.extend(_quote(name) for name in candidates)
    lines.append(_quote(title))
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    if '"' in text or "\n" in text:
        raise ValueError(f"a BLT name cannot contain a double quote or a newline: {text!r}")
    return f'"{text}"'


def _is_int(field: str) -> bool:
    sign = field[1:] if field[:1] in "+-" else field
    return sign.isdigit() and sign.isascii()


def _uncomment(line: str) -> str:
    """The line without a `#` comment; a `#` inside a quoted name is part of the name."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:i]
    return line


def _quoted(line: str) -> list[str] | None:
    """The quoted strings making up a line, or None if anything else is on it."""
    names: list[str] = []
    rest = line.strip()
    while rest:
        if not rest.startswith('"'):
            return None
        end = rest.find('"', 1)
        if end < 0:
            return None
        names.append(rest[1:end])
        rest = rest[end + 1 :].strip()
    return names
