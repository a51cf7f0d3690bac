"""`congress congress|bodies|accredit|credential|motions|ballot …`: running a congress over the HTTP API.

The same settings, output and errors as the other commands: tables or `key: value` by default,
the API's JSON with --json, and every failure one line on stderr. `ballot watch` follows the
voting service's event log (GET /api/v1/events/voting) and draws the turnout of one ballot until
it closes: a Rich progress bar on a terminal, one line per change otherwise.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import click

from congress.cli.client import EXIT_INTERRUPTED, Client, CliError, UsageProblem
from congress.cli.client import segment as _segment
from congress.cli.command import Call, Group, Vocabulary, api_command, read_text_file
from congress.cli.output import Columns, Printer, print_fields, print_json, print_rows, when, yes_no
from congress.cli.results import describe_result, print_election_result, turnout_bar

EVENTS = "/api/v1/events/voting"
# Only what the bar needs: the server filters, so a long log is not paged through in full.
WATCHED = "vote.recorded,ballot.closed"
PAGE = 500


# Output


def print_credential(issued: dict[str, Any], who: str = "the member") -> None:
    """A member's details, then their credential, set apart, with the warning that it is shown once."""
    print_fields(issued, skip=("credential",))
    if issued.get("credential"):
        print()
        print(f"credential: {issued['credential']}")
        print(f"This is the only time the credential is shown (only its hash is kept): give it to {who} now.")


def election_names(client: Client, ballot: dict[str, Any]) -> dict[str, str]:
    """The candidates' names of an election's ballot (its result names them by id)."""
    if ballot.get("kind") != "election" or not ballot.get("subject_id"):
        return {}
    election = client.call("GET", f"/api/v1/elections/{_segment(ballot['subject_id'])}")
    return {c["id"]: c["name"] for c in election.get("candidates", [])}


def ballot_printer(client: Client) -> Printer:
    def print_ballot(ballot: dict[str, Any]) -> None:
        print_fields(ballot, skip=("result", "votes_cast", "electorate"))
        print(f"{'turnout:':<11} {turnout_bar(ballot['votes_cast'], ballot['electorate'])}")
        result = ballot.get("result")
        if not result:
            return
        if ballot.get("kind") == "election":
            print_election_result(result, election_names(client, ballot))
        else:
            print(f"{'result:':<11} {describe_result(result)}")

    return print_ballot


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
    ("email", lambda m: m.get("email")),
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


@click.group("congress", cls=Group)
def congress_command() -> None:
    """World Congresses: schedule, convene, session, close."""


@congress_command.command("schedule")
@click.option("--title", required=True)
@click.option("--opens-on", required=True, metavar="DATE", help="YYYY-MM-DD")
@api_command
def congress_schedule(call: Call, title: str, opens_on: str) -> tuple[Any, Printer]:
    """Schedule a congress."""
    return call.client.call("POST", "/api/v1/congresses", {"title": title, "opens_on": opens_on}), print_fields


@congress_command.command("list")
@api_command
def congress_list(call: Call) -> tuple[Any, Printer]:
    """Every congress."""
    answer = call.client.call("GET", "/api/v1/congresses")
    return answer, lambda a: print_rows(a["congresses"], CONGRESS_COLUMNS, "no congresses")


@congress_command.command("show")
@click.argument("id")
@api_command
def congress_show(call: Call, id: str) -> tuple[Any, Printer]:
    """One congress."""
    return call.client.call("GET", f"/api/v1/congresses/{_segment(id)}"), print_fields


@congress_command.command("convene")
@click.argument("id")
@click.option("--apportionment", metavar="ID", help="default: the latest apportionment")
@click.option("--quorum", type=int, metavar="N", help="default: more than half the voting delegates")
@api_command
def congress_convene(call: Call, id: str, apportionment: str | None, quorum: int | None) -> tuple[Any, Printer]:
    """Convene: the nominated delegates become its members."""
    body: dict[str, Any] = {}
    if apportionment is not None:
        body["apportionment_id"] = apportionment
    if quorum is not None:
        body["quorum"] = quorum
    return call.client.call("POST", f"/api/v1/congresses/{_segment(id)}/convene", body), print_fields


@congress_command.command("session")
@click.argument("id")
@api_command
def congress_session(call: Call, id: str) -> tuple[Any, Printer]:
    """Open the session (ballots may open)."""
    return call.client.call("POST", f"/api/v1/congresses/{_segment(id)}/session"), print_fields


@congress_command.command("close")
@click.argument("id")
@api_command
def congress_close(call: Call, id: str) -> tuple[Any, Printer]:
    """Close the congress (no ballot may be open)."""
    return call.client.call("POST", f"/api/v1/congresses/{_segment(id)}/close"), print_fields


# Bodies, members, credentials


@click.group("bodies", cls=Group)
def bodies_command() -> None:
    """Voting bodies (a convened congress, the IEC, the IS) and their members."""


@bodies_command.command("list")
@api_command
def bodies_list(call: Call) -> tuple[Any, Printer]:
    """Every body."""
    answer = call.client.call("GET", "/api/v1/bodies")
    return answer, lambda a: print_rows(a["bodies"], BODY_COLUMNS, "no bodies", numeric=(3, 4))


@bodies_command.command("show")
@click.argument("id")
@api_command
def bodies_show(call: Call, id: str) -> tuple[Any, Printer]:
    """One body."""
    return call.client.call("GET", f"/api/v1/bodies/{_segment(id)}"), print_fields


@bodies_command.command("members")
@click.argument("id")
@api_command
def bodies_members(call: Call, id: str) -> tuple[Any, Printer]:
    """A body's members."""
    answer = call.client.call("GET", f"/api/v1/bodies/{_segment(id)}/members")
    return answer, lambda a: print_rows(a["members"], MEMBER_COLUMNS, f"no members in body {id}")


@bodies_command.command("create")
@click.option("--kind", required=True, type=Vocabulary("CREATED_BODY_KINDS"))
@click.option("--name", required=True)
@click.option("--quorum", type=int, metavar="N", help="default: more than half the voting members")
@api_command
def bodies_create(call: Call, kind: str, name: str, quorum: int | None) -> tuple[Any, Printer]:
    """Create the IEC or the IS."""
    body: dict[str, Any] = {"kind": kind, "name": name}
    if quorum is not None:
        body["quorum"] = quorum
    return call.client.call("POST", "/api/v1/bodies", body), print_fields


@bodies_command.command("add-member")
@click.argument("body")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--section", metavar="CODE")
@click.option("--consultative", is_flag=True, help="a voice but no vote")
@api_command
def bodies_add_member(
    call: Call, body: str, name: str, email: str, section: str | None, consultative: bool
) -> tuple[Any, Printer]:
    """Add a member, accredited at once (credential shown once)."""
    payload: dict[str, Any] = {"name": name, "email": email, "deliberative": not consultative}
    if section is not None:
        payload["section"] = section
    answer = call.client.call("POST", f"/api/v1/bodies/{_segment(body)}/members", payload)
    return answer, lambda a: print_credential(a, "the new member")


@click.command("accredit", cls=Group.command_class)
@click.argument("body")
@click.argument("member_id")
@click.option("--consultative", is_flag=True, help="a voice but no vote (default: as nominated)")
@api_command
def accredit_command(call: Call, body: str, member_id: str, consultative: bool) -> tuple[Any, Printer]:
    """Accredit a nominated delegate: their credential is shown this once."""
    payload = {"deliberative": False} if consultative else {}
    path = f"/api/v1/bodies/{_segment(body)}/members/{_segment(member_id)}/accredit"
    return call.client.call("POST", path, payload), lambda a: print_credential(a, "the delegate")


@click.group("credential", cls=Group)
def credential_command() -> None:
    """Members' credentials."""


@credential_command.command("reissue")
@click.argument("member_id")
@api_command
def credential_reissue(call: Call, member_id: str) -> tuple[Any, Printer]:
    """A new credential (shown once); the old one stops."""
    answer = call.client.call("POST", f"/api/v1/members/{_segment(member_id)}/credential")
    return answer, lambda a: print_credential(a, "the member (the old credential no longer works)")


@credential_command.command("revoke")
@click.argument("member_id")
@api_command
def credential_revoke(call: Call, member_id: str) -> tuple[Any, Printer]:
    """Revoke a member's credential."""
    return call.client.call("DELETE", f"/api/v1/members/{_segment(member_id)}/credential"), print_fields


# Motions and ballots


@click.group("motions", cls=Group)
def motions_command() -> None:
    """Motions before a body."""


@motions_command.command("table")
@click.argument("body")
@click.option("--title", required=True)
@click.option("--text", help="the motion's text (or --text-file)")
@click.option("--text-file", metavar="FILE", help="the motion's text from a UTF-8 file ('-': stdin)")
@click.option("--mover", required=True, help="who moves it, e.g. 'IEC' or a section")
@click.option("--rule", type=Vocabulary("MAJORITY_RULES"), default="simple", show_default=True)
@api_command
def motions_table(
    call: Call, body: str, title: str, text: str | None, text_file: str | None, mover: str, rule: str
) -> tuple[Any, Printer]:
    """Table a motion."""
    if (text is None) == (text_file is None):
        raise click.UsageError("give the motion's text with exactly one of --text and --text-file")
    content = text if text is not None else read_text_file(str(text_file), "motion")
    payload = {"title": title, "text": content, "mover": mover, "majority_rule": rule}
    return call.client.call("POST", f"/api/v1/bodies/{_segment(body)}/motions", payload), print_motion


@motions_command.command("list")
@click.argument("body")
@api_command
def motions_list(call: Call, body: str) -> tuple[Any, Printer]:
    """A body's motions."""
    answer = call.client.call("GET", f"/api/v1/bodies/{_segment(body)}/motions")
    return answer, lambda a: print_rows(a["motions"], MOTION_COLUMNS, f"no motions in body {body}")


@motions_command.command("show")
@click.argument("id")
@api_command
def motions_show(call: Call, id: str) -> tuple[Any, Printer]:
    """One motion, with its text."""
    return call.client.call("GET", f"/api/v1/motions/{_segment(id)}"), print_motion


@click.group("ballot", cls=Group)
def ballot_command() -> None:
    """Ballots: open (a motion's), watch, close, show, the published record.

    An election's ballot opens with `congress elections open`; it closes here, like any ballot.
    """


@ballot_command.command("open")
@click.argument("motion_id")
@click.option("--named", is_flag=True, help="a roll call: the record shows who voted what")
@api_command
def ballot_open(call: Call, motion_id: str, named: bool) -> tuple[Any, Printer]:
    """Open the ballot on a motion (secret unless --named)."""
    body = {"secrecy": "named" if named else "secret"}
    answer = call.client.call("POST", f"/api/v1/motions/{_segment(motion_id)}/ballot", body)
    return answer, ballot_printer(call.client)


@ballot_command.command("close")
@click.argument("ballot_id")
@api_command
def ballot_close(call: Call, ballot_id: str) -> tuple[Any, Printer]:
    """Close, count and publish (again: the same answer)."""
    answer = call.client.call("POST", f"/api/v1/ballots/{_segment(ballot_id)}/close")
    return answer, ballot_printer(call.client)


@ballot_command.command("show")
@click.argument("ballot_id")
@api_command
def ballot_show(call: Call, ballot_id: str) -> tuple[Any, Printer]:
    """A ballot, its turnout and, once closed, its result (an election's round by round)."""
    answer = call.client.call("GET", f"/api/v1/ballots/{_segment(ballot_id)}")
    return answer, ballot_printer(call.client)


@ballot_command.command("record")
@click.argument("ballot_id")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE")
@api_command
def ballot_record(call: Call, ballot_id: str, output: Path | None) -> tuple[Any, Printer]:
    """The published record of a closed ballot, as JSON; -o FILE saves it for `congress count ballot`."""
    record = call.client.call("GET", f"/api/v1/ballots/{_segment(ballot_id)}/record")
    if output is None:
        # The record itself, readable or not: `> FILE` keeps it as `count ballot` wants it.
        return record, lambda r: print_json(r)
    try:
        output.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"{output}: cannot write: {exc.strerror}") from None
    saved = {"ballot_id": ballot_id, "file": str(output), "digest": record.get("digest")}
    return saved, lambda s: print(
        f"saved the record of ballot {s['ballot_id']} to {s['file']} (digest {s['digest']}); "
        f"recount it with: congress count ballot {s['file']}"
    )


# Watching a ballot


class TurnoutLine:
    """The turnout, one line per change (off a terminal); with --json one JSON object a line."""

    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.drawn = ""

    def update(self, ballot_id: str, cast: int, electorate: int | None) -> None:
        if self.as_json:
            text = json.dumps({"ballot_id": ballot_id, "votes_cast": cast, "electorate": electorate})
        else:
            text = turnout_bar(cast, electorate)
        if text == self.drawn:
            return
        self.out.write(text + "\n")
        self.out.flush()
        self.drawn = text

    def end(self) -> None:
        self.drawn = ""


class TurnoutBar(TurnoutLine):
    """On a terminal: a Rich progress bar redrawn in place (Rich imported only here)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out, as_json=False)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("ballot"),
            BarColumn(bar_width=40),
            TextColumn("{task.fields[said]}"),
            console=Console(file=out),
            auto_refresh=False,
        )
        self.task = self.progress.add_task("turnout", total=None, said="")
        self.started = False

    def update(self, ballot_id: str, cast: int, electorate: int | None) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        said = f"{cast}/{electorate} voted ({100 * cast // electorate}%)" if electorate else f"{cast} voted"
        self.progress.update(self.task, completed=cast, total=electorate or None, said=said, refresh=True)

    def end(self) -> None:
        if self.started:
            self.progress.stop()  # leaves the last bar drawn, and the cursor on a fresh line
            self.started = False


def end_of_log(client: Client) -> int:
    """The position of the voting service's last event: page through the log to its end."""
    after = 0
    while True:
        page = client.call("GET", EVENTS, query={"after": after, "limit": PAGE, "types": WATCHED})
        after = int(page["next_after"])
        if len(page["events"]) < PAGE:
            return after


def print_closed(client: Client, ballot: dict[str, Any], line: TurnoutLine) -> None:
    line.update(ballot["id"], ballot["votes_cast"], ballot["electorate"])
    line.end()
    if line.as_json:
        print(json.dumps(ballot, ensure_ascii=False))
    elif ballot.get("result"):
        print(f"closed: {describe_result(ballot['result'], election_names(client, ballot))}")
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
        print_closed(client, ballot, line)
        return
    cast, electorate = ballot["votes_cast"], ballot["electorate"]
    line.update(ballot_id, cast, electorate)
    while True:
        page = client.call("GET", EVENTS, query={"after": after, "limit": PAGE, "types": WATCHED})
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
                print_closed(client, client.call("GET", path), line)
                return
        after = int(page["next_after"])
        if len(page["events"]) < PAGE:
            time.sleep(interval)


@ballot_command.command("watch")
@click.argument("ballot_id")
@click.option("--once", is_flag=True, help="print the current turnout and exit")
@click.option("--interval", type=float, default=0.5, metavar="SECONDS", help="how often to poll (0.5)")
@api_command
def ballot_watch(call: Call, ballot_id: str, once: bool, interval: float) -> None:
    """Live turnout until the ballot closes, then its outcome (Ctrl-C stops, exit status 130).

    Follows the voting events: needs an admin, secretariat or observer token (--once: any token).
    """
    client = call.client
    line = TurnoutBar(sys.stdout) if sys.stdout.isatty() and not call.as_json else TurnoutLine(sys.stdout, call.as_json)
    try:
        if once:
            ballot = client.call("GET", f"/api/v1/ballots/{_segment(ballot_id)}")
            if call.as_json:
                print_json(ballot)
            else:
                print(turnout_bar(ballot["votes_cast"], ballot["electorate"]) + f"  ({ballot['status']})")
                if ballot.get("result"):
                    print(f"closed: {describe_result(ballot['result'], election_names(client, ballot))}")
            return None
        watch(client, ballot_id, line, interval)
        return None
    except KeyboardInterrupt:
        line.end()
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except CliError:
        line.end()  # the error goes on a line of its own
        raise
