"""A delegate's own commands: `congress vote …`, `congress my ballots`, `congress my receipt …`.

The credential comes from $CONGRESS_CREDENTIAL or --credential-file, never from the command line
(other users see argv in `ps`). Each vote carries a request id kept on this machine per credential
and ballot ($XDG_STATE_HOME/congress/votes.json, else ~/.local/state/congress/votes.json, 0600): a
retry, by this command after a lost answer or by the voter running it again, gives the same receipt
and never counts twice. The request id says nothing of the vote; the receipt is not kept there.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from congress.cli.client import EXIT_FAILED, Client, CliError, Refused, UsageProblem
from congress.cli.client import segment as _segment
from congress.cli.command import Call, Group, Vocabulary, api_command, split_list
from congress.cli.output import Columns, Printer, print_rows, table, yes_no

RETRIES = (1.0, 2.0)  # pauses before the second and third attempt of a vote the API did not answer
KEEP_REQUEST_IDS = timedelta(days=366)


# The credential


def credential_option(func: Any) -> Any:
    return click.option(
        "--credential-file",
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="FILE",
        help="a file holding your credential (default: $CONGRESS_CREDENTIAL)",
    )(func)


def read_credential(credential_file: Path | None) -> str:
    if credential_file is not None:
        try:
            text = credential_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageProblem(f"{credential_file}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageProblem(f"{credential_file}: not a credential (not UTF-8 text)") from None
        if not text:
            raise UsageProblem(f"{credential_file}: empty; it should hold your credential (dc_…)")
        return text
    found = os.environ.get("CONGRESS_CREDENTIAL", "").strip()
    if not found:
        raise UsageProblem(
            "no credential: set CONGRESS_CREDENTIAL or give --credential-file FILE "
            "(never on the command line, where other users can see it)"
        )
    return found


def delegate_client(call: Call, credential_file: Path | None) -> Client:
    return Client.from_settings(call.url, token=read_credential(credential_file))


# Request ids kept for retries


def state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "congress" / "votes.json"


def kept_request_id(credential: str, ballot_id: str) -> str:
    """This credential's request id for this ballot: the one kept, else a new one, kept first."""
    path = state_path()
    # A hash of the credential, shortened: enough to tell credentials apart, useless to vote with.
    key = hashlib.sha256(credential.encode()).hexdigest()[:16] + ":" + ballot_id
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(kept, dict):
            kept = {}
    except (OSError, ValueError):
        kept = {}
    entry = kept.get(key)
    if isinstance(entry, dict) and isinstance(entry.get("request_id"), str):
        return entry["request_id"]
    now = datetime.now(UTC)
    fresh = {
        k: v
        for k, v in kept.items()
        if isinstance(v, dict) and _age(v.get("at"), now) < KEEP_REQUEST_IDS  # old ballots closed long ago
    }
    request_id = f"cli-{uuid.uuid4()}"
    fresh[key] = {"request_id": request_id, "at": now.isoformat()}
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(fresh, out, indent=1)
        os.replace(temporary, path)
    except OSError as exc:
        # Voting still works; only a later run could not repeat this request id.
        click.echo(f"congress: warning: cannot keep the request id in {path}: {exc.strerror}", err=True)
    return request_id


def _age(at: Any, now: datetime) -> timedelta:
    try:
        return now - datetime.fromisoformat(str(at))
    except ValueError:
        return timedelta.max


# Voting


def standing_candidates(client: Client, ballot: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    election = client.call("GET", f"/api/v1/elections/{_segment(ballot['subject_id'])}")
    return election, [c for c in election.get("candidates", []) if not c.get("withdrawn")]


def resolve_candidates(given: list[str], standing: list[dict[str, Any]], option: str) -> list[str]:
    """Names (any case) or ids → ids; an unknown or ambiguous name is a usage error, nothing sent."""
    by_id = {c["id"]: c for c in standing}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for candidate in standing:
        by_name.setdefault(candidate["name"].casefold(), []).append(candidate)
    chosen = []
    for item in given:
        if item in by_id:
            chosen.append(item)
            continue
        matches = by_name.get(item.casefold(), [])
        if len(matches) == 1:
            chosen.append(matches[0]["id"])
        elif matches:
            ids = ", ".join(c["id"] for c in matches)
            raise UsageProblem(f"{option}: {len(matches)} candidates are called {item!r}: give the id ({ids})")
        else:
            names = ", ".join(sorted(c["name"] for c in standing)) or "none"
            raise UsageProblem(f"{option}: no standing candidate {item!r}; standing: {names}")
    if len(set(chosen)) != len(chosen):
        raise UsageProblem(f"{option}: a candidate appears twice")
    return chosen


def cast(client: Client, ballot_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the vote; on no answer (unreachable, timeout, 5xx) try again with the same request id."""
    path = f"/api/v1/ballots/{_segment(ballot_id)}/votes"
    for pause in (*RETRIES, None):
        try:
            return client.call("POST", path, body)
        except CliError as exc:
            if exc.exit_code != EXIT_FAILED or pause is None:
                if exc.exit_code == EXIT_FAILED:
                    raise type(exc)(
                        f"{exc}; your vote may or may not have been recorded: run the same command again, "
                        "it repeats the same request and gives the same receipt, never a second vote"
                    ) from None
                raise
            time.sleep(pause)
    raise AssertionError("unreachable")


@click.command("vote", cls=Group.command_class)
@click.argument("ballot_id")
@click.argument("choice", required=False, type=Vocabulary("VOTE_CHOICES"))
@click.option("--rank", metavar="NAMES", help='an STV election: candidates, most preferred first: "Rosa,Karl,Clara"')
@click.option("--mark", metavar="NAMES", help='a block election: up to as many candidates as seats: "Rosa,Karl"')
@click.option(
    "--save-receipt",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="also save the receipt to FILE (readable by you only), for `congress my receipt --receipt-file`",
)
@credential_option
@api_command
def vote_command(
    call: Call,
    ballot_id: str,
    choice: str | None,
    rank: str | None,
    mark: str | None,
    save_receipt: Path | None,
    credential_file: Path | None,
) -> tuple[Any, Printer]:
    """Vote in a ballot with your credential: prints your receipt.

    A motion: yes, no or abstain. An STV election (meek, wigm): --rank, most preferred first. A block
    election: --mark. Candidates by name or id. Keep the receipt: after the close, `congress my
    receipt BALLOT_ID --receipt R` finds your ballot in the published record. Running the command
    again repeats the same request and gives the same receipt; it never counts twice.
    """
    from congress.cli.vocabulary import VOTE_CHOICES

    given = [name for name, value in (("CHOICE", choice), ("--rank", rank), ("--mark", mark)) if value is not None]
    if len(given) != 1:
        raise click.UsageError(f"give exactly one of {'|'.join(VOTE_CHOICES)}, --rank or --mark")
    credential = read_credential(credential_file)
    client = Client.from_settings(call.url, token=credential)
    body: dict[str, Any]
    names: dict[str, str] = {}
    if choice is not None:
        body = {"choice": choice}
    else:
        ballot = client.call("GET", f"/api/v1/ballots/{_segment(ballot_id)}")
        if ballot.get("kind") != "election":
            raise UsageProblem(f"ballot {ballot_id} is on a motion: vote {', '.join(VOTE_CHOICES)}")
        election, standing = standing_candidates(client, ballot)
        option, wanted = ("--mark", "marks") if mark is not None else ("--rank", "ranking")
        method = election.get("method")
        if (method == "block") != (wanted == "marks"):
            right = "--mark" if method == "block" else "--rank"
            raise UsageProblem(f"ballot {ballot_id} is a {method} election: vote with {right}, not {option}")
        body = {wanted: resolve_candidates(split_list(mark if mark is not None else rank), standing, option)}
        names = {c["id"]: c["name"] for c in standing}
    body["request_id"] = kept_request_id(credential, ballot_id)
    receipt = cast(client, ballot_id, body)
    if save_receipt is not None:
        save(save_receipt, {**receipt, "url": client.url})
    voted = body.get("choice") or ", ".join(names.get(c, c) for c in body.get("ranking") or body.get("marks") or [])

    def printer(answer: dict[str, Any]) -> None:
        print(f"ballot:  {answer['ballot_id']}")
        print(f"voted:   {voted}")
        print(f"receipt: {answer['receipt']}")
        if save_receipt is not None:
            print(f"saved to {save_receipt}")
        print(
            f"Keep the receipt: once the ballot closes, `congress my receipt {answer['ballot_id']} "
            f"--receipt {answer['receipt']}` finds your ballot in the published record."
        )

    return receipt, printer


def save(path: Path, receipt: dict[str, Any]) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the voter's eyes only
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(receipt, out, indent=2)
            out.write("\n")
    except OSError as exc:
        # The vote is in: say so, with the receipt, rather than lose it.
        raise CliError(
            f"{path}: cannot write ({exc.strerror}); your vote was recorded, receipt {receipt['receipt']}",
            exit_code=EXIT_FAILED,
        ) from None


# My ballots, my receipt


MY_BALLOT_COLUMNS: Columns = (
    ("ballot", lambda b: b["id"]),
    ("body", lambda b: b.get("body_name")),
    ("kind", lambda b: b["kind"]),
    ("title", lambda b: (b.get("subject") or {}).get("title")),
    ("how", lambda b: how(b)),
    ("status", lambda b: b.get("status")),
    ("may vote", lambda b: yes_no(b.get("may_vote"))),
)


def how(ballot: dict[str, Any]) -> str:
    subject = ballot.get("subject") or {}
    if ballot["kind"] == "election":
        return f"{subject.get('method')}, {subject.get('seats')} seat(s)"
    return f"{str(subject.get('majority_rule') or 'simple').replace('_', ' ')} majority"


@click.group("my", cls=Group)
def my_command() -> None:
    """A delegate's own: open ballots, and a receipt found in a published record."""


@my_command.command("ballots")
@click.option("--all", "everything", is_flag=True, help="closed ballots too")
@credential_option
@api_command
def my_ballots(call: Call, everything: bool, credential_file: Path | None) -> tuple[Any, Printer]:
    """The ballots of the bodies you belong to: open ones (--all: every one), with an election's candidates."""
    answer = delegate_client(call, credential_file).call("GET", "/api/v1/me/ballots")

    def printer(mine: dict[str, Any]) -> None:
        member = mine.get("member") or {}
        if member:
            print(f"{member.get('name')} ({member.get('id')}); bodies: {', '.join(b['name'] for b in mine['bodies'])}")
        shown = [b for b in mine.get("ballots", []) if everything or b.get("status") == "open"]
        print_rows(shown, MY_BALLOT_COLUMNS, "no open ballots" if not everything else "no ballots")
        for ballot in shown:
            subject = ballot.get("subject") or {}
            if ballot["kind"] == "election" and ballot.get("status") == "open":
                option = "--mark" if subject.get("method") == "block" else "--rank"
                names = ", ".join(c["name"] for c in subject.get("candidates", []))
                print(f'{ballot["id"]}: candidates {names}; vote with {option} "NAME,NAME,…"')

    return answer, printer


@my_command.command("receipt")
@click.argument("ballot_id")
@click.option("--receipt", metavar="RECEIPT", help="the receipt `congress vote` printed")
@click.option(
    "--receipt-file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="the receipt saved with `congress vote --save-receipt`",
)
@api_command
def my_receipt(call: Call, ballot_id: str, receipt: str | None, receipt_file: Path | None) -> tuple[Any, Printer]:
    """Find your receipt in a closed ballot's published record, and what it says was counted."""
    if (receipt is None) == (receipt_file is None):
        raise click.UsageError("give exactly one of --receipt and --receipt-file")
    if receipt_file is not None:
        receipt = receipt_from_file(receipt_file, ballot_id)
    assert receipt is not None
    record = call.anonymous().call("GET", f"/api/v1/ballots/{_segment(ballot_id)}/record")
    ballots = record.get("ballots") or []
    found = next((b for b in ballots if b.get("receipt") == receipt), None)
    if found is None:
        raise Refused(
            f"receipt {receipt} is not in the published record of ballot {ballot_id} "
            f"({len(ballots)} ballots, digest {record.get('digest')})"
        )
    names = (record.get("ballot") or {}).get("candidates") or {}
    answer = {
        "ballot_id": ballot_id,
        "receipt": receipt,
        "found": True,
        "counted": found,
        "digest": record.get("digest"),
    }

    def printer(a: dict[str, Any]) -> None:
        counted = a["counted"]
        print(f"receipt {receipt} is in the published record of ballot {ballot_id}")
        print(f"digest:  {a['digest']}")
        print(
            f"Check the record itself: congress ballot record {ballot_id} -o record.json && "
            "congress count ballot record.json --url URL"
        )
        if counted.get("choice") is not None:
            print(f"counted: {counted['choice']}")
            return
        chosen = counted.get("ranking") or counted.get("marks") or []
        if not chosen:
            print("counted: an empty ballot")
            return
        print("counted, in this order:")
        table(("#", "candidate"), [(str(i), names.get(c, c)) for i, c in enumerate(chosen, start=1)], numeric=(0,))

    return answer, printer


def receipt_from_file(path: Path, ballot_id: str) -> str:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageProblem(f"{path}: cannot read: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        raise UsageProblem(f"{path}: not a saved receipt (not JSON)") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("receipt"), str):
        raise UsageProblem(f'{path}: not a saved receipt (expected {{"ballot_id": …, "receipt": …}})')
    if saved.get("ballot_id") not in (None, ballot_id):
        raise UsageProblem(f"{path}: the receipt of ballot {saved['ballot_id']}, not {ballot_id}")
    return str(saved["receipt"])
