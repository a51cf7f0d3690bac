"""`congress count …`: offline counting from files, with no running stack."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any


class InputError(Exception):
    """A problem with the user's file: printed as one line, exit status 1."""


def add_commands(commands: Any) -> None:
    count = commands.add_parser("count", help="count offline from a file (no running stack needed)")
    what = count.add_subparsers(dest="count_what", metavar="WHAT", required=True)

    apportion = what.add_parser(
        "apportion",
        help="apportion delegates among sections from a CSV with columns section,members",
        description="Apportion delegates among sections. FILE is a CSV whose header has the columns "
        "'section' and 'members'.",
    )
    apportion.add_argument("file", type=Path, metavar="FILE.csv")
    apportion.add_argument("--seats", type=int, required=True, help="total seats to share")
    apportion.add_argument("--method", required=True, choices=["huntington-hill", "sainte-lague", "dhondt", "hamilton"])
    apportion.add_argument("--min", type=int, default=1, dest="minimum", help="minimum seats per section (1)")
    apportion.add_argument("--seed", help="seed of the lot that settles ties (default: derived from the figures)")
    apportion.add_argument("--json", action="store_true", help="print JSON for scripts")
    apportion.set_defaults(run=run_apportion)

    ballot = what.add_parser(
        "ballot",
        help="recount a closed ballot from its published record and check its digest",
        description="Recount a closed ballot from its published record (GET /api/v1/ballots/ID/record, or "
        "`congress ballot record ID -o FILE`): check the digest, count the ballots again and compare with "
        "the published result. Exit status 1 if the record was altered or does not add up.",
    )
    ballot.add_argument("file", type=Path, metavar="RECORD.json")
    ballot.add_argument("--json", action="store_true", help="print the recounted result as JSON, for scripts")
    ballot.set_defaults(run=run_ballot)

    stv = what.add_parser(
        "stv",
        help="count a BLT ballot file by single transferable vote (Meek or WIGM)",
        description="Count the ranked ballots in a BLT file (as used by OpenSTV and the ERS) by STV: "
        "'meek' (Meek's method, New Zealand precision) or 'wigm' (weighted inclusive Gregory, the Scottish "
        "rules). With one seat both are instant runoff.",
    )
    stv.add_argument("file", type=Path, metavar="FILE.blt")
    stv.add_argument("--seats", type=int, help="seats to fill (default: the number in the file)")
    stv.add_argument("--method", required=True, choices=["meek", "wigm"])
    stv.add_argument("--seed", help="seed of the lot that settles ties (default: derived from the ballots)")
    stv.add_argument("--json", action="store_true", help="print JSON for scripts")
    stv.set_defaults(run=run_stv)


def read_membership_csv(path: Path) -> dict[str, int]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    rows = csv.reader(text.splitlines())
    header = [column.strip().lower() for column in next(rows, [])]
    for column in ("section", "members"):
        if column not in header:
            raise InputError(f"{path}:1: the header has no '{column}' column (it needs section,members)")
    at_section, at_members = header.index("section"), header.index("members")
    members: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(at_section, at_members):
            raise InputError(f"{path}:{line}: expected {len(header)} columns, found {len(row)}")
        section, raw = row[at_section].strip(), row[at_members].strip()
        if not section:
            raise InputError(f"{path}:{line}: the section is empty")
        if section in first_seen:
            raise InputError(f"{path}:{line}: section {section!r} appears twice (first on line {first_seen[section]})")
        try:
            count = int(raw)
        except ValueError:
            raise InputError(f"{path}:{line}: members of {section!r} must be a whole number, not {raw!r}") from None
        if count < 0:
            raise InputError(f"{path}:{line}: members of {section!r} cannot be negative ({count})")
        members[section] = count
        first_seen[section] = line
    if not members:
        raise InputError(f"{path}: no sections in the file")
    return members


def run_apportion(args: argparse.Namespace) -> int:
    from sections.domain.apportionment import ApportionmentError, apportion, summary

    members = read_membership_csv(args.file)
    try:
        result = apportion(members, args.seats, args.method, minimum=args.minimum, seed=args.seed)
    except ApportionmentError as exc:
        raise InputError(str(exc)) from None
    if args.json:
        json.dump(summary(result), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print_apportionment(result)
    return 0


def read_record(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a ballot record (not UTF-8 text)") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise InputError(f"{path}: not a ballot record (expected a JSON object with its ballots and digest)")
    return record


def run_ballot(args: argparse.Namespace) -> int:
    from voting.domain.record import recount

    record = read_record(args.file)
    try:
        result = recount(record)
    except ValueError as exc:  # RecordError, or a CountingError over a choice that is not on a motion
        raise InputError(" ".join(f"{args.file}: {exc}".split())) from None
    except (KeyError, TypeError, AttributeError) as exc:
        # The digest matched, so whoever wrote the file recomputed it over a malformed record.
        raise InputError(f"{args.file}: not a well-formed ballot record ({type(exc).__name__}: {exc})") from None
    if args.json:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print_recount(record, result)
    return 0


def print_recount(record: dict[str, Any], result: dict[str, Any]) -> None:
    ballot = record["ballot"]
    tally, cast, electorate = result["tally"], result["cast"], result["electorate"]
    turnout = f" ({100 * cast // electorate}%)" if electorate else ""
    rule = result["majority_rule"].replace("_", " ")
    print(ballot.get("title") or f"ballot {ballot.get('id', '?')}")
    lines = (
        ("ballot", f"{ballot.get('id', '?')} ({ballot.get('secrecy', '?')})"),
        ("tally", f"yes {tally['yes']}, no {tally['no']}, abstain {tally['abstain']}"),
        ("cast", f"{cast} of {electorate}{turnout}"),
        ("majority", f"{rule}, {'met' if result['majority_met'] else 'not met'}"),
        ("quorum", f"{result['quorum']} votes, {'met' if result['quorum_met'] else 'not met'}"),
        ("outcome", result["outcome"].replace("_", " ")),
    )
    for key, value in lines:
        print(f"{key + ':':<10} {value}")
    print(f"digest OK: {record['digest']}; the recount matches the published result")


def print_apportionment(result: Any) -> None:
    quotient = "quota" if result.method == "hamilton" else "last priority"
    rows = [
        (a.section, str(a.members), str(a.seats), a.priority_text(result.method) or "–") for a in result.allocations
    ]
    print(f"{result.method}: {result.seats} seats, minimum {result.minimum} per section")
    table(("section", "members", "seats", quotient), rows, numeric=(1, 2, 3))
    for tie in result.ties:
        print(
            f"tie: {', '.join(tie.sections)} level for the last {tie.seats} seat(s); "
            f"settled by {tie.resolved_by} (seed {result.seed}): {', '.join(tie.winners)}"
        )


def run_stv(args: argparse.Namespace) -> int:
    from voting.domain.blt import BltError, read_blt
    from voting.domain.stv import CountError, count_stv, result_json

    try:
        election = read_blt(args.file)
    except BltError as exc:
        raise InputError(str(exc)) from None
    seats = election.seats if args.seats is None else args.seats
    try:
        result = count_stv(
            election.candidates, election.ballots, seats, args.method, withdrawn=election.withdrawn, seed=args.seed
        )
    except CountError as exc:
        raise InputError(f"{args.file}: {exc}") from None
    if args.json:
        json.dump(result_json(result), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print_stv(election.title, result)
    return 0


def print_stv(title: str, result: Any) -> None:
    """One row per candidate, one column per round, then what happened in each round."""
    print(f"{title}: {result.method}, {result.seats} seat{'s' if result.seats != 1 else ''}")
    rounds = result.rounds
    header = ("candidate", *(str(r.number) for r in rounds))
    rows = [(name, *(r.votes[name] for r in rounds)) for name in rounds[0].votes]
    rows.append(("exhausted", *(r.exhausted for r in rounds)))
    rows.append(("quota", *(r.quota for r in rounds)))
    table(header, rows, numeric=tuple(range(1, len(header))))
    for r in rounds:
        print(f"round {r.number}: {r.note}")
    print(f"elected: {', '.join(result.elected) or 'no one'}")


def table(header: tuple[str, ...], rows: list[tuple[str, ...]], numeric: tuple[int, ...] = ()) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in numeric else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
