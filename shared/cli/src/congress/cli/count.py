"""`congress count …`: offline counting from files, with no running stack.

`count ballot` may also ask the API (--url) for the record signing key and the ballot.closed event,
with the standard library only, like the rest of the command line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

KEYS_PATH = "/api/v1/keys"
EVENTS_PATH = "/api/v1/events/voting"
EVENT_PAGE = 1000  # the most the API gives in one page
HTTP_TIMEOUT = 30.0


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
        help="check a closed ballot's published record (signature, digest, invariants) and recount it",
        description="Check and recount a closed ballot from its published record (GET /api/v1/ballots/ID/record, "
        "or `congress ballot record ID -o FILE`), in this order: the Ed25519 signature against a key you trust "
        "(--key or --key-file, else the key the API at --url serves); the digest; the invariants (as many ballots "
        "as participants, no more than the electorate, unique receipts, every ballot valid for its kind); the "
        "recount against the published result; and, with --event or --url, the digest the ballot.closed event "
        "published. With no trusted key it refuses: the key named inside a record proves nothing, since a forger "
        "can put their own there. The first failure is one line on stderr with exit status 1.",
    )
    ballot.add_argument("file", type=Path, metavar="RECORD.json")
    trust = ballot.add_mutually_exclusive_group()
    trust.add_argument("--key", metavar="BASE64", help="the record signing public key you trust (base64, 32 bytes)")
    trust.add_argument(
        "--key-file",
        type=Path,
        metavar="FILE",
        help="a file with that key: base64, PEM, or the JSON of GET /api/v1/keys",
    )
    ballot.add_argument(
        "--url",
        help="the API to ask for the key (GET /api/v1/keys, if no --key) and for the ballot.closed event "
        "(GET /api/v1/events/voting, token from $CONGRESS_TOKEN or the config file; if no --event)",
    )
    ballot.add_argument(
        "--event",
        type=Path,
        metavar="EVENT.json",
        help="the ballot.closed event as published (the envelope, its data, or a page of the event log)",
    )
    ballot.add_argument("--json", action="store_true", help="print what was checked and the result as JSON")
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
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
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
    from congress.contract.api import SEATS
    from congress_counting.apportionment import ApportionmentError, apportion, summary

    if not SEATS.min <= args.seats <= SEATS.max:  # the API's cap: a huge house would run for minutes
        raise InputError(f"--seats must be between {SEATS.min} and {SEATS.max}, not {args.seats}")
    if not 0 <= args.minimum <= SEATS.max:
        raise InputError(f"--min must be between 0 and {SEATS.max}, not {args.minimum}")
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


@dataclass(frozen=True)
class TrustedKey:
    key: Ed25519PublicKey
    text: str  # base64 of the raw key, as the API serves it
    source: str  # where it came from, for the reader


@dataclass(frozen=True)
class PublishedEvent:
    data: dict[str, Any]
    source: str
    position: int | None


def run_ballot(args: argparse.Namespace) -> int:
    from congress_counting.record import RecordError, recount, verify_record_signature

    record = read_record(args.file)
    url = args.url.rstrip("/") if args.url else None
    trusted = trusted_key(args, url, record)
    # Signature first: nothing in an unsigned or foreign record is worth reading. Then digest, invariants,
    # recount and the published digest; the first failure is the one line.
    try:
        verify_record_signature(record, trusted.key)
    except RecordError as exc:
        raise InputError(one_line(f"{args.file}: {exc}")) from None
    try:
        result = recount(record)
    except ValueError as exc:  # RecordError, or a CountError/CountingError over a ballot that cannot be counted
        raise InputError(one_line(f"{args.file}: {exc}")) from None
    except (KeyError, TypeError, AttributeError) as exc:
        # The digest matched, so whoever wrote the file recomputed it over a malformed record.
        raise InputError(f"{args.file}: not a well-formed ballot record ({type(exc).__name__}: {exc})") from None
    published = published_event(args, url, record)
    if published is not None:
        compare_event(args.file, record, published)
    if args.json:
        json.dump(checked_json(record, result, trusted, published), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    if record["ballot"].get("kind") == "election":
        print_election(record, result)
    else:
        print_recount(record, result)
    print_checks(record, trusted, published)
    return 0


def one_line(text: str) -> str:
    return " ".join(text.split())


# The key to trust


def trusted_key(args: argparse.Namespace, url: str | None, record: dict[str, Any]) -> TrustedKey:
    from congress.keys import public_key_text
    from congress_counting.record import record_public_key_text

    if args.key:
        key, source = parse_public_key(args.key, "--key"), "given with --key"
    elif args.key_file:
        try:
            text = args.key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{args.key_file}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InputError(f"{args.key_file}: not a public key (not UTF-8 text)") from None
        key, source = parse_public_key(text, str(args.key_file)), f"from {args.key_file}"
    elif url:
        answer = api_get(url, KEYS_PATH, token=api_token(required=False))
        key, source = key_from_answer(answer, url + KEYS_PATH), f"served by {url}{KEYS_PATH}"
    else:
        # Refuse rather than trust the key the record names: a forger re-signs and names their own.
        named = record_public_key_text(record)
        names = f"names key {named}" if named else "names no key"
        raise InputError(
            f"{args.file}: no trusted key to check the signature against: give --key, --key-file or --url "
            f"(the record {names}, which proves nothing by itself)"
        )
    return TrustedKey(key=key, text=public_key_text(key), source=source)


def parse_public_key(text: str, where: str) -> Ed25519PublicKey:
    """Base64 of the raw 32 bytes (as the API serves it), a PEM public key, or the API's JSON answer."""
    from congress.keys import load_public_key

    text = text.strip()
    if text.startswith("{"):
        try:
            answer = json.loads(text)
        except ValueError as exc:
            raise InputError(f"{where}: not valid JSON: {exc}") from None
        return key_from_answer(answer, where)
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_public_key(text.encode())
        except ValueError:
            raise InputError(f"{where}: not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InputError(f"{where}: not an Ed25519 public key")
        return key
    try:
        return load_public_key(text)
    except ValueError:
        raise InputError(f"{where}: not an Ed25519 public key (base64 of 32 bytes)") from None


def key_from_answer(answer: Any, where: str) -> Ed25519PublicKey:
    if not isinstance(answer, dict) or not isinstance(answer.get("record_signing_key"), str):
        raise InputError(f'{where}: expected {{"record_signing_key": "…", "algorithm": "Ed25519"}}')
    if answer.get("algorithm", "Ed25519") != "Ed25519":
        raise InputError(f"{where}: the record signing key is {answer['algorithm']!r}, not Ed25519")
    return parse_public_key(answer["record_signing_key"], where)


# The API, for the key and the event log (standard library only, as the rest of the command line)


def api_token(required: bool) -> str | None:
    from congress.cli.admin import config_path, read_config

    token = os.environ.get("CONGRESS_TOKEN") or read_config().get("token") or None
    if required and not token:
        raise InputError(
            "reading the ballot.closed event needs an API token: set CONGRESS_TOKEN or put "
            f'{{"token": "…"}} in the config file {config_path()} (or give the event with --event)'
        )
    return str(token) if token else None


def api_get(url: str, path: str, query: dict[str, str] | None = None, token: str | None = None) -> Any:
    from congress.cli.admin import describe_http_error

    full = url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(full, headers=headers), timeout=HTTP_TIMEOUT) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}{path}: {describe_http_error(exc.code, exc.reason, exc.read())}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = (reason.strerror or str(reason)) if isinstance(reason, OSError) else str(reason)
        raise InputError(f"cannot reach the API at {url}: {why}") from None
    except TimeoutError:
        raise InputError(f"the API at {url} did not answer within {HTTP_TIMEOUT:.0f} s") from None
    except (ValueError, OSError) as exc:  # e.g. a --url with no scheme, or a dropped connection
        raise InputError(one_line(f"cannot call the API at {url}: {exc}")) from None
    try:
        return json.loads(raw)
    except ValueError:
        raise InputError(f"{url}{path} did not answer with JSON; is {url} the congress API?") from None


# The ballot.closed event


def published_event(args: argparse.Namespace, url: str | None, record: dict[str, Any]) -> PublishedEvent | None:
    ballot_id = record["ballot"].get("id")
    if args.event is None and url is None:
        return None
    if not isinstance(ballot_id, str):
        raise InputError(f"{args.file}: the record names no ballot id to find its ballot.closed event by")
    if args.event is not None:
        try:
            found = json.loads(args.event.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{args.event}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InputError(f"{args.event}: not a ballot.closed event (not UTF-8 text)") from None
        except ValueError as exc:
            raise InputError(f"{args.event}: not valid JSON: {exc}") from None
        matches = closed_events(found, ballot_id)
        if not matches:
            raise InputError(f"{args.event}: no ballot.closed event for ballot {ballot_id}")
        position, data = matches[0]
        return PublishedEvent(data=data, source=str(args.event), position=position)
    assert url is not None
    return find_closed_event(url, ballot_id)


def closed_events(found: Any, ballot_id: Any) -> list[tuple[int | None, dict[str, Any]]]:
    """(position, data) of each ballot.closed event for the ballot in what was given: an envelope,
    its data, an entry of the event log ({"position", "event"}), a page of it, or a list of these."""
    matches: list[tuple[int | None, dict[str, Any]]] = []

    def walk(item: Any, position: int | None) -> None:
        if isinstance(item, list):
            for each in item:
                walk(each, position)
        elif isinstance(item, dict):
            if isinstance(item.get("events"), list):
                walk(item["events"], position)
            elif isinstance(item.get("event"), dict):
                at = item.get("position")
                walk(item["event"], at if isinstance(at, int) else position)
            elif isinstance(item.get("data"), dict):
                if item.get("type") in (None, "ballot.closed") and item["data"].get("ballot_id") == ballot_id:
                    matches.append((position, item["data"]))
            elif item.get("ballot_id") == ballot_id:
                matches.append((position, item))

    walk(found, None)
    return matches


def find_closed_event(url: str, ballot_id: Any) -> PublishedEvent:
    """Page through the voting service's event log until the ballot's ballot.closed event."""
    token = api_token(required=True)
    after = 0
    while True:
        query = {"types": "ballot.closed", "after": str(after), "limit": str(EVENT_PAGE)}
        page = api_get(url, EVENTS_PATH, query, token)
        try:
            entries, next_after = page["events"], int(page["next_after"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{url}{EVENTS_PATH}: not a page of the event log") from None
        matches = closed_events(entries, ballot_id)
        if matches:
            position, data = matches[0]
            return PublishedEvent(data=data, source=f"the event log at {url}", position=position)
        # The API may cap the page below what was asked: stop at an empty page, never a short one.
        if not entries or next_after <= after:
            raise InputError(f"{url}: no ballot.closed event for ballot {ballot_id} in the voting event log")
        after = next_after


def compare_event(path: Path, record: dict[str, Any], published: PublishedEvent) -> None:
    data = published.data
    if data.get("digest") != record["digest"]:
        raise InputError(
            f"{path}: the digest published in ballot.closed ({data.get('digest')}, {published.source}) "
            f"is not the record's ({record['digest']})"
        )
    for field, recorded in (("votes_cast", len(record["ballots"])), ("electorate", record["ballot"]["electorate"])):
        if field in data and data[field] != recorded:
            raise InputError(f"{path}: ballot.closed published {field} {data[field]!r}; the record has {recorded!r}")


# What was checked, printed


def checked_json(
    record: dict[str, Any], result: dict[str, Any], trusted: TrustedKey, published: PublishedEvent | None
) -> dict[str, Any]:
    event: dict[str, Any] = {"compared": False}
    if published is not None:
        event = {"compared": True, "source": published.source, "position": published.position}
    return {
        "ballot_id": record["ballot"].get("id"),
        "kind": record["ballot"].get("kind", "motion"),
        "digest": record["digest"],
        "signature": {"algorithm": "Ed25519", "public_key": trusted.text, "trusted": trusted.source},
        "ballot_closed": event,
        "result": result,
    }


def print_checks(record: dict[str, Any], trusted: TrustedKey, published: PublishedEvent | None) -> None:
    print(f"signature OK: Ed25519 key {trusted.text} ({trusted.source})")
    print(f"digest OK: {record['digest']}; the recount matches the published result")
    if published is None:
        print("ballot.closed: not compared (give --event FILE or --url URL to compare the published digest)")
    else:
        at = f", position {published.position}" if published.position is not None else ""
        print(f"ballot.closed OK: the same digest was published ({published.source}{at})")


def print_recount(record: dict[str, Any], result: dict[str, Any]) -> None:
    ballot = record["ballot"]
    tally, cast, electorate = result["tally"], result["cast"], result["electorate"]
    rule = result["majority_rule"].replace("_", " ")
    print(ballot.get("title") or f"ballot {ballot.get('id', '?')}")
    lines = (
        ("ballot", f"{ballot.get('id', '?')} ({ballot.get('secrecy', '?')})"),
        ("tally", f"yes {tally['yes']}, no {tally['no']}, abstain {tally['abstain']}"),
        ("cast", f"{cast} of {electorate}{turnout(cast, electorate)}"),
        ("majority", f"{rule}, {'met' if result['majority_met'] else 'not met'}"),
        ("quorum", f"{result['quorum']} votes, {'met' if result['quorum_met'] else 'not met'}"),
        ("outcome", result["outcome"].replace("_", " ")),
    )
    for key, value in lines:
        print(f"{key + ':':<10} {value}")


def print_election(record: dict[str, Any], result: dict[str, Any]) -> None:
    """As `congress count stv` prints a count, with the candidates' names."""
    ballot = record["ballot"]
    names = ballot["candidates"]
    cast, electorate, seats = len(record["ballots"]), ballot["electorate"], result["seats"]
    print(ballot.get("title") or f"ballot {ballot.get('id', '?')}")
    lines = [
        ("ballot", f"{ballot.get('id', '?')} ({ballot.get('secrecy', '?')})"),
        ("method", f"{result['method']}, {seats} seat{'s' if seats != 1 else ''}"),
        ("cast", f"{cast} of {electorate}{turnout(cast, electorate)}"),
    ]
    for key, value in lines:
        print(f"{key + ':':<10} {value}")
    rounds = result["rounds"]
    header = ("candidate", *(str(r["number"]) for r in rounds))
    rows = [(names.get(c, c), *(r["votes"].get(c, "") for r in rounds)) for c in rounds[0]["votes"]]
    if result["method"] != "block":  # a block vote has marks, no quota and nothing to exhaust
        rows.append(("exhausted", *(r["exhausted"] for r in rounds)))
        rows.append(("quota", *(r["quota"] for r in rounds)))
    table(header, rows, numeric=tuple(range(1, len(header))))
    for r in rounds:
        print(f"round {r['number']}: {r['note']}")
    print(f"{'elected:':<10} {', '.join(result['elected_names']) or 'no one'}")


def turnout(cast: int, electorate: int) -> str:
    return f" ({100 * cast // electorate}%)" if electorate else ""


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
    from congress_counting.blt import BltError, read_blt
    from congress_counting.stv import CountError, count_stv, result_json

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
