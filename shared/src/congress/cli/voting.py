"""`congress congress|bodies|accredit|credential|motions|ballot …`: running a congress over the HTTP API.

The same settings, output and errors as the other admin commands (cli/admin.py): tables or
`key: value` by default, the API's JSON with --json, and every failure one line on stderr.
`ballot watch` follows the voting service's event log (GET /api/v1/events/voting) and draws the
turnout of one ballot until it closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from congress.cli.admin import (
    AdminError,
    Client,
    Columns,
    Printer,
    _segment,
    command_builders,
    print_fields,
    print_rows,
    run,
    when,
)
from congress.contract.api import MAJORITY_RULES

EVENTS = "/api/v1/events/voting"
# Only what the bar needs: the server filters, so a long log is not paged through in full.
WATCHED = "vote.recorded,ballot.closed"
PAGE = 500
BAR_WIDTH = 20
MOTION_RESULT = {"outcome", "tally", "cast", "electorate", "majority_rule", "majority_met", "quorum", "quorum_met"}
MOTION_TALLY = {"yes", "no", "abstain"}


# Output


def yes_no(value: Any) -> str:
    return "yes" if value else "no"


def print_credential(issued: dict[str, Any], who: str = "the member") -> None:
    """A member's details, then their credential, set apart, with the warning that it is shown once."""
    print_fields(issued, skip=("credential",))
    if issued.get("credential"):
        print()
        print(f"credential: {issued['credential']}")
        print(f"This is the only time the credential is shown (only its hash is kept): give it to {who} now.")


def turnout_bar(cast: int, electorate: int | None) -> str:
    """`[#########-----------]  212/500 voted (42%)`; rounded down, so a full bar means everyone."""
    if not electorate:
        return f"[{'-' * BAR_WIDTH}]  {cast} voted"
    filled = min(BAR_WIDTH, cast * BAR_WIDTH // electorate)
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}]  {cast}/{electorate} voted ({100 * cast // electorate}%)"


def describe_result(result: dict[str, Any]) -> str:
    """One line: the outcome, the tally, the majority rule and the quorum, each met or not."""
    if not (
        MOTION_RESULT <= set(result) and isinstance(result["tally"], dict) and MOTION_TALLY <= set(result["tally"])
    ):
        return json.dumps(result, ensure_ascii=False)  # not a motion's result (an election's): as the API has it
    tally = result["tally"]
    rule = str(result["majority_rule"]).replace("_", " ")
    return (
        f"{str(result['outcome']).replace('_', ' ')}: yes {tally['yes']}, no {tally['no']}, "
        f"abstain {tally['abstain']}; {result['cast']}/{result['electorate']} voted; "
        f"{rule} majority {'met' if result['majority_met'] else 'not met'}; "
        f"quorum {result['quorum']} {'met' if result['quorum_met'] else 'not met'}"
    )


def print_ballot(ballot: dict[str, Any]) -> None:
    print_fields(ballot, skip=("result", "votes_cast", "electorate"))
    print(f"{'turnout:':<11} {turnout_bar(ballot['votes_cast'], ballot['electorate'])}")
    if ballot.get("result"):
        print(f"{'result:':<11} {describe_result(ballot['result'])}")


def print_motion(motion: dict[str, Any]) -> None:
    print_fields(motion, skip=("text",))
    print()
    print(motion["text"])


CONGRESS_COLUMNS: Columns = (
    ("id", lambda c: c["id"]),
    ("title", lambda c: c["title"]),
    ("opens on", lambda c: c["opens_on"]),
    ("status", lambda c: c["status"]),
    ("body", lambda c: c["body_id"]),
    ("apportionment", lambda c: c["apportionment_id"]),
)
BODY_COLUMNS: Columns = (
    ("id", lambda b: b["id"]),
    ("kind", lambda b: b["kind"]),
    ("name", lambda b: b["name"]),
    ("quorum", lambda b: b["quorum"]),
    ("voting members", lambda b: b["voting_members"]),
)
MEMBER_COLUMNS: Columns = (
    ("id", lambda m: m["id"]),
    ("name", lambda m: m["name"]),
    ("section", lambda m: m["section"]),
    ("email", lambda m: m["email"]),
    ("vote", lambda m: "deliberative" if m["deliberative"] else "consultative"),
    ("accredited", lambda m: yes_no(m["accredited"])),
    ("credential", lambda m: "revoked" if m["credential_revoked"] else ""),
)
MOTION_COLUMNS: Columns = (
    ("id", lambda m: m["id"]),
    ("title", lambda m: m["title"]),
    ("mover", lambda m: m["mover"]),
    ("majority", lambda m: m["majority_rule"]),
    ("tabled", lambda m: when(m["tabled_at"])),
    ("ballot", lambda m: m["ballot_id"]),
)


# Congresses


def congress_schedule(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("POST", "/api/v1/congresses", {"title": args.title, "opens_on": args.opens_on}), print_fields


def congress_list(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("GET", "/api/v1/congresses")
    return answer, lambda a: print_rows(a["congresses"], CONGRESS_COLUMNS, "no congresses")


def congress_show(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("GET", f"/api/v1/congresses/{_segment(args.id)}"), print_fields


def congress_convene(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body: dict[str, Any] = {}
    if args.apportionment is not None:
        body["apportionment_id"] = args.apportionment
    if args.quorum is not None:
        body["quorum"] = args.quorum
    return client.call("POST", f"/api/v1/congresses/{_segment(args.id)}/convene", body), print_fields


def congress_session(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("POST", f"/api/v1/congresses/{_segment(args.id)}/session"), print_fields


def congress_close(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("POST", f"/api/v1/congresses/{_segment(args.id)}/close"), print_fields


# Bodies, members, credentials


def bodies_list(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("GET", "/api/v1/bodies")
    return answer, lambda a: print_rows(a["bodies"], BODY_COLUMNS, "no bodies", numeric=(3, 4))


def bodies_show(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("GET", f"/api/v1/bodies/{_segment(args.id)}"), print_fields


def bodies_members(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("GET", f"/api/v1/bodies/{_segment(args.id)}/members")
    return answer, lambda a: print_rows(a["members"], MEMBER_COLUMNS, f"no members in body {args.id}")


def bodies_create(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body: dict[str, Any] = {"kind": args.kind, "name": args.name}
    if args.quorum is not None:
        body["quorum"] = args.quorum
    return client.call("POST", "/api/v1/bodies", body), print_fields


def bodies_add_member(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body: dict[str, Any] = {"name": args.name, "email": args.email, "deliberative": not args.consultative}
    if args.section is not None:
        body["section"] = args.section
    answer = client.call("POST", f"/api/v1/bodies/{_segment(args.body)}/members", body)
    return answer, lambda a: print_credential(a, "the new member")


def accredit(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"deliberative": False} if args.consultative else {}
    path = f"/api/v1/bodies/{_segment(args.body)}/members/{_segment(args.member_id)}/accredit"
    return client.call("POST", path, body), lambda a: print_credential(a, "the delegate")


def credential_reissue(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("POST", f"/api/v1/members/{_segment(args.member_id)}/credential")
    return answer, lambda a: print_credential(a, "the member (the old credential no longer works)")


def credential_revoke(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("DELETE", f"/api/v1/members/{_segment(args.member_id)}/credential"), print_fields


# Motions and ballots


def read_text_file(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise AdminError(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise AdminError(f"{name}: not UTF-8 text") from None


def motions_table(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    text = args.text if args.text is not None else read_text_file(args.text_file)
    body = {"title": args.title, "text": text, "mover": args.mover, "majority_rule": args.rule}
    return client.call("POST", f"/api/v1/bodies/{_segment(args.body)}/motions", body), print_motion


def motions_list(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("GET", f"/api/v1/bodies/{_segment(args.body)}/motions")
    return answer, lambda a: print_rows(a["motions"], MOTION_COLUMNS, f"no motions in body {args.body}")


def motions_show(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("GET", f"/api/v1/motions/{_segment(args.id)}"), print_motion


def ballot_open(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"secrecy": "named" if args.named else "secret"}
    return client.call("POST", f"/api/v1/motions/{_segment(args.motion_id)}/ballot", body), print_ballot


def ballot_close(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("POST", f"/api/v1/ballots/{_segment(args.ballot_id)}/close"), print_ballot


def ballot_show(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("GET", f"/api/v1/ballots/{_segment(args.ballot_id)}"), print_ballot


def ballot_record(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    record = client.call("GET", f"/api/v1/ballots/{_segment(args.ballot_id)}/record")
    if args.output is None:
        # The record itself, readable or not: `> FILE` keeps it as `count ballot` wants it.
        return record, lambda r: print(json.dumps(r, indent=2, ensure_ascii=False))
    try:
        args.output.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise AdminError(f"{args.output}: cannot write: {exc.strerror}") from None
    saved = {"ballot_id": args.ballot_id, "file": str(args.output), "digest": record.get("digest")}
    return saved, lambda s: print(
        f"saved the record of ballot {s['ballot_id']} to {s['file']} (digest {s['digest']}); "
        f"recount it with: congress count ballot {s['file']}"
    )


# Watching a ballot


class TurnoutLine:
    """The turnout on one line redrawn in place on a terminal; one line per change otherwise.
    With --json: one JSON object a line."""

    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.in_place = out.isatty() and not as_json
        self.drawn = ""

    def update(self, ballot_id: str, cast: int, electorate: int | None) -> None:
        if self.as_json:
            text = json.dumps({"ballot_id": ballot_id, "votes_cast": cast, "electorate": electorate})
        else:
            text = turnout_bar(cast, electorate)
        if text == self.drawn:
            return
        if self.in_place:
            padding = " " * max(0, len(self.drawn) - len(text))
            self.out.write(f"\r{text}{padding}")
        else:
            self.out.write(text + "\n")
        self.out.flush()
        self.drawn = text

    def end(self) -> None:
        """Finish the line drawn in place, so what follows starts on its own."""
        if self.in_place and self.drawn:
            self.out.write("\n")
            self.out.flush()
        self.drawn = ""


def end_of_log(client: Client) -> int:
    """The position of the voting service's last event: page through the log to its end."""
    after = 0
    while True:
        page = client.call("GET", EVENTS, query={"after": str(after), "limit": str(PAGE), "types": WATCHED})
        after = int(page["next_after"])
        if len(page["events"]) < PAGE:
            return after


def print_closed(ballot: dict[str, Any], line: TurnoutLine) -> None:
    line.update(ballot["id"], ballot["votes_cast"], ballot["electorate"])
    line.end()
    if line.as_json:
        print(json.dumps(ballot, ensure_ascii=False))
    elif ballot.get("result"):
        print(f"closed: {describe_result(ballot['result'])}")
    else:
        print(f"the ballot is {ballot['status']}")
    sys.stdout.flush()


def watch(client: Client, ballot_id: str, line: TurnoutLine, interval: float) -> None:
    path = f"/api/v1/ballots/{_segment(ballot_id)}"
    # The end of the log first, then the ballot: a close before that position shows in the ballot,
    # and any later one is an event we follow.
    after = end_of_log(client)
    ballot = client.call("GET", path)
    if ballot["status"] != "open":
        print_closed(ballot, line)
        return
    cast, electorate = ballot["votes_cast"], ballot["electorate"]
    line.update(ballot_id, cast, electorate)
    while True:
        page = client.call("GET", EVENTS, query={"after": str(after), "limit": str(PAGE), "types": WATCHED})
        for entry in page["events"]:
            event = entry["event"]
            data = event.get("data") or {}
            if data.get("ballot_id") != ballot_id:
                continue
            if event["type"] == "vote.recorded":
                # Votes already counted when we read the ballot come again, lower: never go back.
                cast, electorate = max(cast, data["votes_cast"]), data["electorate"]
                line.update(ballot_id, cast, electorate)
            elif event["type"] == "ballot.closed":
                line.update(ballot_id, data["votes_cast"], data["electorate"])
                print_closed(client.call("GET", path), line)
                return
        after = int(page["next_after"])
        if len(page["events"]) < PAGE:
            time.sleep(interval)


def run_watch(args: argparse.Namespace) -> int:
    client = Client.from_settings(args.url)
    line = TurnoutLine(sys.stdout, args.json)
    try:
        if args.once:
            ballot = client.call("GET", f"/api/v1/ballots/{_segment(args.ballot_id)}")
            if args.json:
                print(json.dumps(ballot, indent=2, ensure_ascii=False))
            else:
                print(turnout_bar(ballot["votes_cast"], ballot["electorate"]) + f"  ({ballot['status']})")
                if ballot.get("result"):
                    print(f"closed: {describe_result(ballot['result'])}")
            return 0
        watch(client, args.ballot_id, line, args.interval)
        return 0
    except KeyboardInterrupt:
        line.end()
        return 130
    except AdminError:
        line.end()  # the error goes on a line of its own
        raise


# The parser


def add_commands(commands: Any) -> None:
    """Add the congress, bodies, accreditation, motions and ballot commands to `congress`."""
    group, command, common = command_builders(commands)

    congress = group("congress", "World Congresses: schedule, convene, session, close")
    cmd = command(congress, "schedule", congress_schedule, "schedule a congress")
    cmd.add_argument("--title", required=True)
    cmd.add_argument("--opens-on", required=True, metavar="DATE", help="YYYY-MM-DD")
    command(congress, "list", congress_list, "every congress")
    cmd = command(congress, "show", congress_show, "one congress")
    cmd.add_argument("id", metavar="ID")
    cmd = command(congress, "convene", congress_convene, "convene: the nominated delegates become its members")
    cmd.add_argument("id", metavar="ID")
    cmd.add_argument("--apportionment", metavar="ID", help="default: the latest apportionment")
    cmd.add_argument("--quorum", type=int, metavar="N", help="default: more than half the voting delegates")
    cmd = command(congress, "session", congress_session, "open the session (ballots may open)")
    cmd.add_argument("id", metavar="ID")
    cmd = command(congress, "close", congress_close, "close the congress (no ballot may be open)")
    cmd.add_argument("id", metavar="ID")

    bodies = group("bodies", "voting bodies (a convened congress, the IEC, the IS) and their members")
    command(bodies, "list", bodies_list, "every body")
    cmd = command(bodies, "show", bodies_show, "one body")
    cmd.add_argument("id", metavar="ID")
    cmd = command(bodies, "members", bodies_members, "a body's members")
    cmd.add_argument("id", metavar="ID")
    cmd = command(bodies, "create", bodies_create, "create the IEC or the IS")
    cmd.add_argument("--kind", required=True, choices=("iec", "is"))
    cmd.add_argument("--name", required=True)
    cmd.add_argument("--quorum", type=int, metavar="N", help="default: more than half the voting members")
    cmd = command(bodies, "add-member", bodies_add_member, "add a member, accredited at once (credential shown once)")
    cmd.add_argument("body", metavar="BODY")
    cmd.add_argument("--name", required=True)
    cmd.add_argument("--email", required=True)
    cmd.add_argument("--section", metavar="CODE")
    cmd.add_argument("--consultative", action="store_true", help="a voice but no vote")

    parser = commands.add_parser(
        "accredit",
        help="accredit a nominated delegate (credential shown once)",
        description="Accredit a nominated delegate: their credential is shown this once.",
        parents=[common],
    )
    parser.set_defaults(run=run, admin_command=accredit)
    parser.add_argument("body", metavar="BODY")
    parser.add_argument("member_id", metavar="MEMBER_ID")
    parser.add_argument("--consultative", action="store_true", help="a voice but no vote (default: as nominated)")

    credential = group("credential", "members' credentials")
    cmd = command(credential, "reissue", credential_reissue, "a new credential (shown once); the old one stops")
    cmd.add_argument("member_id", metavar="MEMBER_ID")
    cmd = command(credential, "revoke", credential_revoke, "revoke a member's credential")
    cmd.add_argument("member_id", metavar="MEMBER_ID")

    motions = group("motions", "motions before a body")
    cmd = command(motions, "table", motions_table, "table a motion")
    cmd.add_argument("body", metavar="BODY")
    cmd.add_argument("--title", required=True)
    text = cmd.add_mutually_exclusive_group(required=True)
    text.add_argument("--text")
    text.add_argument("--text-file", metavar="FILE", help="the motion's text from a UTF-8 file ('-': stdin)")
    cmd.add_argument("--mover", required=True, help="who moves it, e.g. 'IEC' or a section")
    cmd.add_argument("--rule", choices=MAJORITY_RULES, default="simple", help="majority rule (simple)")
    cmd = command(motions, "list", motions_list, "a body's motions")
    cmd.add_argument("body", metavar="BODY")
    cmd = command(motions, "show", motions_show, "one motion, with its text")
    cmd.add_argument("id", metavar="ID")

    ballot = group("ballot", "ballots on motions: open, watch, close, the published record")
    cmd = command(ballot, "open", ballot_open, "open the ballot on a motion (secret unless --named)")
    cmd.add_argument("motion_id", metavar="MOTION_ID")
    cmd.add_argument("--named", action="store_true", help="a roll call: the record shows who voted what")
    cmd = command(ballot, "close", ballot_close, "close, count and publish (again: the same answer)")
    cmd.add_argument("ballot_id", metavar="BALLOT_ID")
    cmd = command(ballot, "show", ballot_show, "a ballot, its turnout and, once closed, its result")
    cmd.add_argument("ballot_id", metavar="BALLOT_ID")
    cmd = command(ballot, "record", ballot_record, "the published record of a closed ballot, as JSON")
    cmd.add_argument("ballot_id", metavar="BALLOT_ID")
    cmd.add_argument("-o", "--output", type=Path, metavar="FILE", help="save it to FILE for `congress count ballot`")
    cmd = ballot.add_parser(
        "watch",
        help="live turnout until the ballot closes (Ctrl-C stops)",
        description="Follow the voting events and show the ballot's turnout as a bar until it closes; "
        "then its outcome. Needs an admin, secretariat or observer token. Ctrl-C stops (exit status 130).",
        parents=[common],
    )
    cmd.set_defaults(run=run_watch)
    cmd.add_argument("ballot_id", metavar="BALLOT_ID")
    cmd.add_argument("--once", action="store_true", help="print the current turnout and exit")
    cmd.add_argument("--interval", type=float, default=0.5, metavar="SECONDS", help="how often to poll (0.5)")
