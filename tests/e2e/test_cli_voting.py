"""Running a congress from the `congress` command line, as a process against the real stack:
schedule, convene, accredit, table, open, watch the turnout from the events, close, fetch the
published record and recount it offline; every failure one line on stderr (exit status 1 for a
refusal by the API, 2 for a usage error)."""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Stack
from tests.support.cli_output import as_json, fields_of, ok, one_line_error, table_rows
from tests.support.congress import Delegate, congress_in_session, section_with_nominations, table_and_open

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).with_name("congress")

Run = Callable[..., subprocess.CompletedProcess]


def cli_env(stack: Stack, home: Path, token: str | None) -> dict[str, str]:
    # Nothing from the caller's own CONGRESS_* settings or ~/.config leaks into a test.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONGRESS_")}
    env = {**clean, "HOME": str(home), "CONGRESS_URL": stack.url}
    if token is not None:
        env["CONGRESS_TOKEN"] = {"admin": stack.admin_token, "observer": stack.observer_token}.get(token, token)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(stack: Stack, home: Path) -> Run:
    """`cli(*args, token=…)`: the CLI at the stack's URL, as admin unless given another token."""

    def run(*args: str, token: str | None = "admin") -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(CLI), *args], env=cli_env(stack, home, token), capture_output=True, text=True, timeout=90
        )

    return run


def api_ok(answer: requests.Response, status: int = 200) -> dict:
    assert answer.status_code == status, f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text}"
    return answer.json()


def vote(stack: Stack, ballot_id: str, delegate: Delegate, choice: str) -> dict:
    return api_ok(
        stack.api("POST", f"/api/v1/ballots/{ballot_id}/votes", token=delegate.auth, json={"choice": choice}), 201
    )


def nominated_delegates(stack: Stack, delegates: int) -> str:
    """A section of our own with `delegates` nominations under a fresh apportionment: its id."""
    return section_with_nominations(stack, delegates)[1]["id"]


def test_a_congress_from_schedule_to_a_recounted_record(stack: Stack, cli: Run, tmp_path: Path) -> None:
    apportionment_id = nominated_delegates(stack, 5)
    title = "Congress " + secrets.token_hex(3)

    scheduled = as_json(cli("congress", "schedule", "--title", title, "--opens-on", "2027-01-10", "--json"))
    assert (scheduled["title"], scheduled["status"], scheduled["opens_on"]) == (title, "planned", "2027-01-10")
    congress_id = scheduled["id"]
    assert fields_of(ok(cli("congress", "show", congress_id)))["status"] == "planned"
    row = next(r for r in table_rows(ok(cli("congress", "list"))) if r[0] == congress_id)
    assert row[1:4] == [title, "2027-01-10", "planned"]
    too_early = one_line_error(cli("congress", "session", congress_id))
    assert too_early.startswith("congress: 409 conflict: a planned congress cannot become in_session")

    convened = as_json(cli("congress", "convene", congress_id, "--apportionment", apportionment_id, "--json"))
    assert (convened["status"], convened["apportionment_id"]) == ("convened", apportionment_id)
    body_id = convened["body_id"]
    assert fields_of(ok(cli("congress", "session", congress_id)))["status"] == "in_session"

    members = as_json(cli("bodies", "members", body_id, "--json"))["members"]
    assert len(members) == 5 and not any(m["accredited"] for m in members)
    rows = table_rows(ok(cli("bodies", "members", body_id)))
    assert sorted(r[0] for r in rows) == sorted(m["id"] for m in members)
    assert all("deliberative" in r and "no" in r for r in rows)  # voting members, not yet accredited

    # The first accreditation as an organiser reads it; the credential stands apart, shown once.
    shown = ok(cli("accredit", body_id, members[0]["id"]))
    credential = re.search(r"^credential: (dc_\S+)$", shown, re.MULTILINE)
    assert credential, shown
    assert "This is the only time the credential is shown" in shown
    delegates = [Delegate(member_id=members[0]["id"], name=members[0]["name"], credential=credential[1])]
    for member in members[1:]:
        issued = as_json(cli("accredit", body_id, member["id"], "--json"))
        assert issued["accredited"] is True and issued["credential"].startswith("dc_")
        delegates.append(Delegate(member_id=member["id"], name=member["name"], credential=issued["credential"]))
    again = one_line_error(cli("accredit", body_id, members[0]["id"]))
    assert again.startswith("congress: 409 conflict: ") and "already accredited" in again
    assert fields_of(ok(cli("bodies", "show", body_id)))["voting_members"] == "5"

    text = tmp_path / "motion.txt"
    text.write_text("The congress adopts the programme.\nIn full.\n", encoding="utf-8")
    motion = as_json(
        cli(
            "motions",
            "table",
            body_id,
            "--title",
            "Adopt the programme",
            "--text-file",
            str(text),
            "--mover",
            "IEC",
            "--rule",
            "simple",
            "--json",
        )
    )
    assert (motion["text"], motion["majority_rule"], motion["ballot_id"]) == (text.read_text(), "simple", None)
    row = next(r for r in table_rows(ok(cli("motions", "list", body_id))) if r[0] == motion["id"])
    assert row[1:4] == ["Adopt the programme", "IEC", "simple"]

    opened = as_json(cli("ballot", "open", motion["id"], "--json"))
    assert (opened["status"], opened["secrecy"], opened["electorate"], opened["quorum"]) == ("open", "secret", 5, 3)
    ballot_id = opened["id"]
    twice = one_line_error(cli("ballot", "open", motion["id"]))
    assert twice == f"congress: 409 conflict: motion {motion['id']} already has a ballot"
    not_yet = one_line_error(cli("ballot", "record", ballot_id))
    assert not_yet.startswith("congress: 409 conflict: ") and "published when it closes" in not_yet

    for delegate, choice in zip(delegates, ["yes", "yes", "yes", "no"], strict=False):
        vote(stack, ballot_id, delegate, choice)
    assert ok(cli("ballot", "watch", ballot_id, "--once")) == "[################----]  4/5 voted (80%)  (open)\n"
    assert as_json(cli("ballot", "watch", ballot_id, "--once", "--json"))["votes_cast"] == 4

    closed = ok(cli("ballot", "close", ballot_id))
    assert fields_of(closed)["status"] == "closed"
    assert "adopted: yes 3, no 1, abstain 0; 4/5 voted; simple majority met; quorum 3 met" in closed
    assert ok(cli("ballot", "close", ballot_id)) == closed  # a second close: the same answer
    ballot = as_json(cli("ballot", "show", ballot_id, "--json"))
    assert ballot == api_ok(stack.api("GET", f"/api/v1/ballots/{ballot_id}"))
    assert ballot["result"]["outcome"] == "adopted"

    # The record, saved and recounted offline: the same result as the API's.
    path = tmp_path / "record.json"
    saved = ok(cli("ballot", "record", ballot_id, "-o", str(path)))
    assert f"congress count ballot {path}" in saved
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record == api_ok(stack.api("GET", f"/api/v1/ballots/{ballot_id}/record", token=None))
    assert as_json(cli("ballot", "record", ballot_id)) == record  # on stdout without -o
    checked = as_json(cli("count", "ballot", str(path), "--url", stack.url, "--json", token="observer"))
    assert checked["result"] == ballot["result"]
    readable = ok(cli("count", "ballot", str(path), "--url", stack.url, token="observer"))
    assert "ballot.closed OK: the same digest was published" in readable
    assert readable.startswith("Adopt the programme\n")
    assert fields_of(readable)["outcome"] == "adopted"
    assert f"digest OK: {record['digest']}" in readable

    # One ballot altered in the file: the digest gives it away.
    record["ballots"][0]["choice"] = "no" if record["ballots"][0]["choice"] == "yes" else "yes"
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(record), encoding="utf-8")
    refused = one_line_error(cli("count", "ballot", str(altered), "--url", stack.url, token="observer"))
    assert "the signature does not match the record" in refused

    assert fields_of(ok(cli("congress", "close", congress_id)))["status"] == "closed"


def test_an_iec_with_a_named_ballot_and_credentials_reissued_and_revoked(
    stack: Stack, cli: Run, tmp_path: Path
) -> None:
    name = "IEC " + secrets.token_hex(3)
    body = as_json(cli("bodies", "create", "--kind", "iec", "--name", name, "--quorum", "2", "--json"))
    assert (body["kind"], body["name"], body["quorum"], body["voting_members"]) == ("iec", name, 2, 0)
    row = next(r for r in table_rows(ok(cli("bodies", "list"))) if r[0] == body["id"])
    assert row[1:] == ["iec", name, "2", "0"]

    added = ok(
        cli("bodies", "add-member", body["id"], "--name", "Rosa", "--email", "rosa@example.org", "--section", "de")
    )
    rosa = fields_of(added)
    assert (rosa["name"], rosa["section"], rosa["accredited"], rosa["deliberative"]) == ("Rosa", "de", "True", "True")
    assert "This is the only time the credential is shown" in added
    karl = as_json(cli("bodies", "add-member", body["id"], "--name", "Karl", "--email", "karl@example.org", "--json"))
    clara = as_json(
        cli(
            "bodies",
            "add-member",
            body["id"],
            "--name",
            "Clara",
            "--email",
            "c@example.org",
            "--consultative",
            "--json",
        )
    )
    assert clara["deliberative"] is False
    assert as_json(cli("bodies", "show", body["id"], "--json"))["voting_members"] == 2

    # Rosa lost hers: a new one, and the old one stops.
    old = Delegate(member_id=rosa["id"], name="Rosa", credential=rosa["credential"])
    reissued = ok(cli("credential", "reissue", rosa["id"]))
    new = re.search(r"^credential: (dc_\S+)$", reissued, re.MULTILINE)
    assert new and new[1] != old.credential, reissued
    assert fields_of(ok(cli("credential", "revoke", clara["id"])))["credential_revoked"] == "True"

    motion = as_json(
        cli(
            "motions",
            "table",
            body["id"],
            "--title",
            "Call the congress",
            "--text",
            "…",
            "--mover",
            "IS",
            "--rule",
            "absolute",
            "--json",
        )
    )
    ballot = as_json(cli("ballot", "open", motion["id"], "--named", "--json"))
    assert (ballot["secrecy"], ballot["electorate"], ballot["quorum"]) == ("named", 2, 2)
    refused = stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token=old.auth, json={"choice": "yes"})
    assert refused.status_code == 401, refused.text
    vote(stack, ballot["id"], Delegate(rosa["id"], "Rosa", new[1]), "yes")
    vote(stack, ballot["id"], Delegate(karl["id"], "Karl", karl["credential"]), "no")
    closed = as_json(cli("ballot", "close", ballot["id"], "--json"))
    assert closed["result"]["outcome"] == "rejected"  # an absolute majority needs 2 of 2

    path = tmp_path / "named.json"
    ok(cli("ballot", "record", ballot["id"], "-o", str(path)))
    record = json.loads(path.read_text(encoding="utf-8"))
    assert sorted((p["name"], p["choice"]) for p in record["participants"]) == [("Karl", "no"), ("Rosa", "yes")]
    checked = as_json(cli("count", "ballot", str(path), "--url", stack.url, "--json", token="observer"))
    assert checked["result"] == closed["result"]


def test_one_line_errors(stack: Stack, cli: Run, tmp_path: Path) -> None:
    missing = "no-such-" + secrets.token_hex(3)
    assert one_line_error(cli("ballot", "show", missing)) == f"congress: 404 not_found: no ballot {missing!r}"
    assert one_line_error(cli("ballot", "watch", missing)).startswith("congress: 404 not_found: ")
    assert one_line_error(cli("congress", "show", missing)).startswith("congress: 404 not_found: ")
    assert one_line_error(cli("motions", "list", missing, token=None), status=2).startswith("congress: no API token")
    bad_date = one_line_error(cli("congress", "schedule", "--title", "T", "--opens-on", "soon"))
    assert bad_date.startswith("congress: 400 invalid_input: ") and "opens_on: " in bad_date
    no_body = cli("motions", "table", missing, "--title", "T", "--text", "x", "--mover", "IEC")
    assert one_line_error(no_body) == f"congress: 404 not_found: no body {missing!r}"
    no_file = cli("motions", "table", missing, "--title", "T", "--text-file", str(tmp_path / "nope"), "--mover", "m")
    assert one_line_error(no_file, status=2) == f"congress: {tmp_path / 'nope'}: cannot read: No such file or directory"
    ok(cli("congress", "list", token="observer"))  # the observer may read congresses …
    nope = one_line_error(cli("bodies", "create", "--kind", "iec", "--name", "X", token="observer"))
    assert nope.startswith("congress: 403 forbidden: ")  # … but not create bodies
    unreadable = tmp_path / "record.json"
    unreadable.write_text("{not json", encoding="utf-8")
    assert one_line_error(cli("count", "ballot", str(unreadable))).startswith(f"congress: {unreadable}: not valid JSON")


# Watching a ballot live


class Watcher:
    """`congress ballot watch` in the background, its stdout read line by line as it comes."""

    def __init__(self, stack: Stack, home: Path, ballot_id: str, token: str = "observer") -> None:
        self.process = subprocess.Popen(
            [str(CLI), "ballot", "watch", ballot_id, "--interval", "0.2"],
            env=cli_env(stack, home, token),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, wanted: str, timeout: float = 30) -> str:
        """Read until a line containing `wanted` arrives."""
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if wanted in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if wanted in line:
                return line
        raise AssertionError(f"no line with {wanted!r}; so far: {self.lines}; exit: {self.process.poll()}")

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    started: list[Watcher] = []
    yield started
    for watcher in started:
        watcher.stop()


def test_watch_follows_the_turnout_from_the_events_until_the_ballot_closes(
    stack: Stack, cli: Run, home: Path, watchers: list[Watcher]
) -> None:
    congress = congress_in_session(stack, 4)
    _, ballot = table_and_open(stack, congress.body_id)
    vote(stack, ballot["id"], congress.delegates[0], "yes")  # before the watch: counted from the ballot

    watcher = Watcher(stack, home, ballot["id"])
    watchers.append(watcher)
    assert watcher.wait_for("1/4 voted") == "[#####---------------]  1/4 voted (25%)"
    for cast, (delegate, choice) in enumerate(zip(congress.delegates[1:], ["yes", "no"], strict=False), start=2):
        vote(stack, ballot["id"], delegate, choice)
        watcher.wait_for(f"{cast}/4 voted")  # each vote moves the bar, from its vote.recorded event
    ok(cli("ballot", "close", ballot["id"]))

    code, stderr = watcher.finish()
    assert (code, stderr) == (0, "")
    assert watcher.lines == [
        "[#####---------------]  1/4 voted (25%)",
        "[##########----------]  2/4 voted (50%)",
        "[###############-----]  3/4 voted (75%)",
        "closed: adopted: yes 2, no 1, abstain 0; 3/4 voted; simple majority met; quorum 3 met",
    ]

    # Once it is closed, a watch prints the outcome and ends at once.
    again = ok(cli("ballot", "watch", ballot["id"], token="observer"))
    assert again.splitlines()[-1] == watcher.lines[-1]


def test_watch_stops_quietly_on_ctrl_c_and_needs_a_token_that_may_read_the_events(
    stack: Stack, cli: Run, home: Path, watchers: list[Watcher]
) -> None:
    congress = congress_in_session(stack, 2)
    _, ballot = table_and_open(stack, congress.body_id)

    watcher = Watcher(stack, home, ballot["id"], token="admin")
    watchers.append(watcher)
    watcher.wait_for("0/2 voted")
    watcher.process.send_signal(signal.SIGINT)
    code, stderr = watcher.finish()
    assert (code, stderr) == (130, "")

    delegate = congress.delegates[0].credential
    refused = one_line_error(cli("ballot", "watch", ballot["id"], token=delegate))
    assert refused.startswith("congress: 403 forbidden: ")
    assert ok(cli("ballot", "watch", ballot["id"], "--once", token=delegate)).endswith("0/2 voted (0%)  (open)\n")
