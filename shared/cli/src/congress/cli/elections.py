"""`congress elections …`: a body's elections, their candidates, the ballot, and the count.

`elections show` prints the count round by round with the candidates' names once the result is
declared. Candidates may be imported from a CSV (name,email[,member_id]), checked in full first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from congress.cli.client import Client, UsageProblem
from congress.cli.client import segment as _segment
from congress.cli.command import Call, Group, Vocabulary, api_command
from congress.cli.imports import Row, check_rows, first_seen, read_rows, schema_problems, send_rows, starting_at
from congress.cli.output import Columns, Printer, print_fields, print_rows, yes_no
from congress.cli.results import print_election_result, turnout_bar

ELECTION_COLUMNS: Columns = (
    ("id", lambda e: e["id"]),
    ("title", lambda e: e["title"]),
    ("method", lambda e: e["method"]),
    ("seats", lambda e: e["seats"]),
    ("fills", lambda e: e.get("fills_body_id")),
    ("candidates", lambda e: sum(not c.get("withdrawn") for c in e.get("candidates", []))),
    ("ballot", lambda e: e.get("ballot_id")),
)
CANDIDATE_COLUMNS: Columns = (
    ("id", lambda c: c["id"]),
    ("name", lambda c: c["name"]),
    ("member", lambda c: c.get("member_id")),
    ("withdrawn", lambda c: yes_no(c.get("withdrawn"))),
)


def print_candidates(election: dict[str, Any]) -> None:
    print_rows(election.get("candidates", []), CANDIDATE_COLUMNS, f"no candidates in election {election['id']}")


def print_election(election: dict[str, Any]) -> None:
    print_fields(election, skip=("candidates",))
    print()
    print_candidates(election)


def election_and_ballot_printer(client: Client) -> Printer:
    def printer(election: dict[str, Any]) -> None:
        print_election(election)
        if not election.get("ballot_id"):
            return
        ballot = client.call("GET", f"/api/v1/ballots/{_segment(election['ballot_id'])}")
        print()
        print(f"ballot:  {ballot['id']} ({ballot['secrecy']}, {ballot['status']})")
        print(f"turnout: {turnout_bar(ballot['votes_cast'], ballot['electorate'])}")
        if ballot.get("result"):
            names = {c["id"]: c["name"] for c in election.get("candidates", [])}
            print_election_result(ballot["result"], names)

    return printer


@click.group("elections", cls=Group)
def elections_command() -> None:
    """Elections of a body: the Congress elects the IEC, the IEC elects the IS.

    create → candidates add|withdraw|import → open → (delegates vote) → `congress ballot close`
    → show, with the count round by round.
    """


@elections_command.command("create")
@click.argument("body_id")
@click.option("--title", required=True)
@click.option("--method", required=True, type=Vocabulary("ELECTION_METHODS"), help="block vote, or STV")
@click.option("--seats", required=True, type=int, metavar="N")
@click.option("--fills", "fills", metavar="BODY_ID", help="the body whose members it elects (replaced on declaring)")
@click.option("--named", is_flag=True, help="a roll call: the record shows who voted what (default: secret)")
@api_command
def elections_create(
    call: Call, body_id: str, title: str, method: str, seats: int, fills: str | None, named: bool
) -> tuple[Any, Printer]:
    """Create an election held by BODY_ID."""
    body: dict[str, Any] = {"title": title, "method": method, "seats": seats}
    if fills is not None:
        body["fills_body_id"] = fills
    if named:
        body["secrecy"] = "named"
    return call.client.call("POST", f"/api/v1/bodies/{_segment(body_id)}/elections", body), print_election


@elections_command.command("list")
@click.argument("body_id")
@api_command
def elections_list(call: Call, body_id: str) -> tuple[Any, Printer]:
    """The elections a body holds."""
    answer = call.client.call("GET", f"/api/v1/bodies/{_segment(body_id)}/elections")
    return answer, lambda a: print_rows(a["elections"], ELECTION_COLUMNS, f"no elections in body {body_id}", (3, 5))


@elections_command.command("show")
@click.argument("election_id")
@api_command
def elections_show(call: Call, election_id: str) -> tuple[Any, Printer]:
    """An election, its candidates, its ballot and, once declared, the count round by round.

    With --json: the election as the API has it (its ballot: `congress ballot show BALLOT_ID --json`).
    """
    answer = call.client.call("GET", f"/api/v1/elections/{_segment(election_id)}")
    return answer, election_and_ballot_printer(call.client)


@elections_command.command("open")
@click.argument("election_id")
@api_command
def elections_open(call: Call, election_id: str) -> tuple[Any, Printer]:
    """Open the election's ballot (secret or named as the election was created); candidates are then fixed."""
    from congress.cli.voting import ballot_printer

    answer = call.client.call("POST", f"/api/v1/elections/{_segment(election_id)}/ballot")
    return answer, ballot_printer(call.client)


@elections_command.group("candidates", cls=Group)
def candidates_command() -> None:
    """An election's candidates, until its ballot opens."""


@candidates_command.command("add")
@click.argument("election_id")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--member", "member_id", metavar="MEMBER_ID", help="if the candidate already holds a credential")
@api_command
def candidates_add(call: Call, election_id: str, name: str, email: str, member_id: str | None) -> tuple[Any, Printer]:
    """Nominate a candidate; prints the election's candidates."""
    body = {"name": name, "email": email}
    if member_id is not None:
        body["member_id"] = member_id
    answer = call.client.call("POST", f"/api/v1/elections/{_segment(election_id)}/candidates", body)
    return answer, print_candidates


@candidates_command.command("withdraw")
@click.argument("election_id")
@click.argument("candidate_id")
@api_command
def candidates_withdraw(call: Call, election_id: str, candidate_id: str) -> tuple[Any, Printer]:
    """Withdraw a candidate; prints the election's candidates."""
    path = f"/api/v1/elections/{_segment(election_id)}/candidates/{_segment(candidate_id)}/withdraw"
    return call.client.call("POST", path), print_candidates


@candidates_command.command("import")
@click.argument("election_id")
@click.argument("file", metavar="FILE.csv", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--from-line", type=click.IntRange(min=2), metavar="N", help="send only rows from line N on (resume)")
@api_command
def candidates_import(call: Call, election_id: str, file: Path, from_line: int | None) -> None:
    """Nominate candidates from a CSV with the columns name,email[,member_id].

    Every row is checked first (each value as the API checks it, the same email or member twice,
    a member already standing, a ballot already open): if any is bad, each bad row is named with its
    line and nothing is sent. Then the rows go in one by one; the API has no batch endpoint, so if
    it refuses one the import stops there and says which lines went in and which were not sent.
    """
    from congress.contract.api import CandidateNomination

    rows = starting_at(read_rows(file, ("name", "email"), ("member_id",)), from_line)
    if not rows:
        raise UsageProblem(f"{file}: no rows from line {from_line} on")
    path = f"/api/v1/elections/{_segment(election_id)}"
    election = call.client.call("GET", path)
    if election.get("ballot_id"):
        raise UsageProblem(f"election {election_id}: its ballot has opened; no more candidates (nothing sent)")
    standing = {c["member_id"] for c in election.get("candidates", []) if c.get("member_id") and not c.get("withdrawn")}
    same_email = first_seen(rows, lambda r: r.values.get("email", "").lower(), "email")
    same_member = first_seen(rows, lambda r: r.values.get("member_id"), "member")
    schema = CandidateNomination()

    def check(row: Row) -> list[str]:
        row.body = {"name": row.values["name"], "email": row.values["email"]}
        if row.values.get("member_id"):
            row.body["member_id"] = row.values["member_id"]
        said = schema_problems(schema, row.body)
        if row.line in same_email:
            said.append(f"email: {same_email[row.line]}")
        if row.line in same_member:
            said.append(f"member_id: {same_member[row.line]}")
        elif row.body.get("member_id") and row.body["member_id"] in standing:
            said.append(f"member_id: {row.body['member_id']} already stands in this election")
        return said

    check_rows(file, rows, check)
    known = {c["id"] for c in election.get("candidates", [])}

    def send(row: Row) -> dict[str, Any]:
        answer = call.client.call("POST", f"{path}/candidates", row.body)
        new = [c for c in answer.get("candidates", []) if c["id"] not in known]
        known.update(c["id"] for c in new)
        return new[0] if len(new) == 1 else {"name": row.body["name"], "id": None, "election": answer}

    columns = (("name", lambda r, a: a.get("name")), ("id", lambda r, a: a.get("id")))
    send_rows(file, rows, send, columns, call.as_json, "candidates")
    return None
