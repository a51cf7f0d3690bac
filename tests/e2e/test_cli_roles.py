"""A command line for every role (issue 13), each command run as a process against the real
stack, and what it did checked through the API: tokens of every role, the record key, CSV
imports (all rows checked before any is sent), elections with a round-by-round count, a
delegate's vote, ballots and receipt, and the Secretariat's circulars, inboxes, webhooks and
deliveries. Exit statuses: 1 a refusal by the API, 2 a usage error (nothing sent), 3 a failure."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.e2e.conftest import Stack, new_section
from tests.support.cli_output import as_json, fields_of, ok, one_line_error, table_rows
from tests.support.congress import congress_in_session, table_and_open
from tests.support.infra import eventually
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).with_name("congress")
LAST_MONTH = (date.today() - timedelta(days=30)).isoformat()

Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(stack: Stack, home: Path) -> Run:
    """`cli(*args, token=…, credential=…)`: the CLI at the stack's URL, as admin unless told otherwise."""

    def run(*args: str, token: str | None = "admin", credential: str | None = None) -> subprocess.CompletedProcess:
        # Nothing from the caller's own CONGRESS_* settings or ~/.config leaks into a test.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONGRESS_", "XDG_"))}
        env.update(HOME=str(home), CONGRESS_URL=stack.url)
        if token is not None:
            env["CONGRESS_TOKEN"] = {"admin": stack.admin_token, "observer": stack.observer_token}.get(token, token)
        if credential is not None:
            env["CONGRESS_CREDENTIAL"] = credential
        return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=90)

    return run


def api(stack: Stack, method: str, path: str, status: int = 200, token: str | None = "admin", **kw: Any) -> Any:
    answer = stack.api(method, path, token=token, **kw)
    assert answer.status_code == status, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


def register(stack: Stack, members: int | None = None) -> str:
    section = new_section()
    api(stack, "POST", "/api/v1/sections", 201, json=section)
    if members is not None:
        api(
            stack,
            "POST",
            f"/api/v1/sections/{section['code']}/returns",
            201,
            json={"as_of": LAST_MONTH, "members": members},
        )
    return section["code"]


def errors(result: subprocess.CompletedProcess, status: int) -> list[str]:
    """Every stderr line, after checking the status, that stdout is empty and there is no traceback."""
    assert result.returncode == status, (result.args, result.returncode, result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("congress: ") for line in lines), lines
    return lines


def token_of(printed: str) -> str:
    found = re.search(r"^token: (\S+)$", printed, re.MULTILINE)
    assert found, printed
    return found[1]


# Tokens and the key


def test_tokens_for_every_role_are_issued_listed_and_revoked(stack: Stack, cli: Run) -> None:
    code = register(stack)
    label = "desk " + secrets.token_hex(3)

    secretariat = as_json(cli("tokens", "issue", "--role", "secretariat", "--label", label, "--json"))
    assert (secretariat["role"], secretariat["label"], secretariat["code"]) == ("secretariat", label, None)
    ok(cli("circulars", "list", token=secretariat["token"]))  # the Secretariat's own commands
    assert one_line_error(
        cli(
            "sections",
            "register",
            "--code",
            "x" + secrets.token_hex(3),
            "--name",
            "n",
            "--country",
            "c",
            "--email",
            "e@example.org",
            token=secretariat["token"],
        )
    ).startswith("congress: 403 forbidden: ")

    printed = ok(cli("tokens", "issue", "--role", "observer", "--label", label))
    observer = token_of(printed)
    assert printed.count(observer) == 1 and "only time the token is shown" in printed
    assert fields_of(printed)["role"] == "observer"
    ok(cli("congress", "list", token=observer))

    officer = as_json(cli("tokens", "issue", "--role", "section_officer", "--section", code, "--json"))
    legacy = as_json(cli("tokens", "issue", code, "--label", label, "--json"))  # the old form: an officer's
    assert [(t["role"], t["code"]) for t in (officer, legacy)] == [("section_officer", code)] * 2
    ok(cli("returns", "file", code, "--as-of", LAST_MONTH, "--members", "3", token=legacy["token"]))

    listed = as_json(cli("tokens", "list", "--section", code, "--json"))
    assert listed == api(stack, "GET", "/api/v1/tokens", params={"section": code})
    assert sorted(t["id"] for t in listed["tokens"]) == sorted([officer["id"], legacy["id"]])
    rows = table_rows(ok(cli("tokens", "list", "--role", "secretariat")))
    assert [secretariat["id"], "secretariat"] == next(r[:2] for r in rows if r[0] == secretariat["id"])
    assert all("token" not in t for t in listed["tokens"])  # never the token itself

    revoked = fields_of(ok(cli("tokens", "revoke", officer["id"])))
    assert revoked["id"] == officer["id"] and revoked["revoked_at"] != "–"
    assert officer["id"] not in [
        t["id"] for t in api(stack, "GET", "/api/v1/tokens", params={"section": code})["tokens"]
    ]
    with_revoked = as_json(cli("tokens", "list", "--section", code, "--include-revoked", "--json"))["tokens"]
    assert officer["id"] in [t["id"] for t in with_revoked]
    after = one_line_error(cli("sections", "show", code, token=officer["token"]))
    assert after.startswith("congress: 401 not_authenticated: ")

    # Usage errors: status 2 and nothing issued.
    before = len(api(stack, "GET", "/api/v1/tokens")["tokens"])
    assert cli("tokens", "issue", "--label", "x").returncode == 2
    assert cli("tokens", "issue", code, "--role", "observer").returncode == 2
    assert cli("tokens", "issue", "--role", "mayor").returncode == 2
    assert len(api(stack, "GET", "/api/v1/tokens")["tokens"]) == before
    refused = one_line_error(cli("tokens", "issue", "--role", "observer", token=observer))
    assert refused.startswith("congress: 403 forbidden: ")


def test_keys_prints_the_record_signing_key_without_a_token(stack: Stack, cli: Run) -> None:
    served = api(stack, "GET", "/api/v1/keys", token=None)

    assert as_json(cli("keys", "--json", token=None)) == served
    assert fields_of(ok(cli("keys", token=None)))["record_signing_key"] == served["record_signing_key"]


# CSV imports


def test_nominations_import_checks_every_row_before_sending_any(stack: Stack, cli: Run, tmp_path: Path) -> None:
    code, other = register(stack, members=10**9), register(stack)
    apportionment = big_enough(stack, code, 3)
    path = f"/api/v1/sections/{code}/nominations"
    tag = secrets.token_hex(3)

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "section,name,email\n"
        f"{code},Rosa,rosa.{tag}@example.org\n"
        f"nowhere-{tag},Karl,karl.{tag}@example.org\n"
        f"{code},,clara.{tag}@example.org\n"
        "\n"
        f"{code},Anna,not-an-email\n"
        f"{code},Rosa again,ROSA.{tag}@example.org\n",
        encoding="utf-8",
    )
    lines = errors(cli("nominations", "import", str(bad), "--apportionment", apportionment), 2)
    assert lines == [
        f"congress: {bad}:3: section: no section 'nowhere-{tag}'",
        f"congress: {bad}:4: name: Length must be between 1 and 200.",
        f"congress: {bad}:6: email: Not a valid email address.",
        f"congress: {bad}:7: email: the same email as line 2",
        f"congress: {bad}: 4 of 5 rows are invalid; nothing was sent",
    ]
    assert api(stack, "GET", path)["nominations"] == []  # all rows or none

    no_header = tmp_path / "no_header.csv"
    no_header.write_text(f"{code},Rosa,rosa@example.org\n", encoding="utf-8")
    (line,) = errors(cli("nominations", "import", str(no_header)), 2)
    assert "the header must name the columns section,name,email" in line

    good = tmp_path / "good.csv"
    good.write_text(
        "name,email,section\n"  # any column order
        f"Rosa,rosa.{tag}@example.org,{code}\n"
        f"Karl,karl.{tag}@example.org,{code}\n"
        f"Clara,clara.{tag}@example.org,{code}\n",
        encoding="utf-8",
    )
    printed = ok(cli("nominations", "import", str(good), "--apportionment", apportionment))
    assert printed.endswith(f"imported 3 nominations from {good}\n")
    nominated = api(stack, "GET", path)["nominations"]
    assert sorted(n["name"] for n in nominated) == ["Clara", "Karl", "Rosa"]
    assert {n["apportionment_id"] for n in nominated} == {apportionment}
    assert [r[:2] for r in table_rows(printed.rsplit("imported", 1)[0])] == [["2", code], ["3", code], ["4", code]]

    # Refused on the way (the allocation is full at one seat): what went in, and what did not.
    one_seat = one_seat_each(stack, other)
    full = tmp_path / "full.csv"
    full.write_text(
        "section,name,email\n" + "".join(f"{other},Delegate {i},d{i}.{tag}@example.org\n" for i in range(3)),
        encoding="utf-8",
    )
    done = cli("nominations", "import", str(full), "--apportionment", one_seat, "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [n["line"] for n in report["imported"]] == [2]
    assert (report["refused"]["line"], report["not_sent"]) == (3, [4])
    assert report["refused"]["error"].startswith("409 conflict: ")
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"congress: {full}:3: 409 conflict: ")
    assert line.endswith("went in: lines 2; not sent: lines 4; resume with --from-line 3")
    assert [n["name"] for n in api(stack, "GET", f"/api/v1/sections/{other}/nominations")["nominations"]] == [
        "Delegate 0"
    ]


def big_enough(stack: Stack, code: str, seats: int) -> str:
    """An apportionment giving `code` (10⁹ members) at least `seats` seats: its id."""
    total = seats + 5
    while True:
        body = {"seats": total, "method": "dhondt", "minimum": 0}
        apportionment = api(stack, "POST", "/api/v1/apportionments", 201, json=body)
        if next(a["seats"] for a in apportionment["allocations"] if a["section"] == code) >= seats:
            return apportionment["id"]
        total *= 2


def one_seat_each(stack: Stack, code: str) -> str:
    """As many seats as full sections, at least one each: exactly one for `code`."""
    api(stack, "POST", f"/api/v1/sections/{code}/returns", 201, json={"as_of": LAST_MONTH, "members": 10})
    entitled = len(api(stack, "GET", "/api/v1/sections", params={"status": "section"})["sections"])
    apportionment = api(stack, "POST", "/api/v1/apportionments", 201, json={"seats": entitled, "method": "dhondt"})
    assert next(a["seats"] for a in apportionment["allocations"] if a["section"] == code) == 1
    return apportionment["id"]


# Elections and a delegate's own commands


def test_an_election_from_the_command_line_counted_round_by_round_with_names(
    stack: Stack, cli: Run, tmp_path: Path
) -> None:
    congress = congress_in_session(stack, 3)
    rosa_d, karl_d, clara_d = congress.delegates
    iec = as_json(cli("bodies", "create", "--kind", "iec", "--name", "IEC " + secrets.token_hex(3), "--json"))

    created = as_json(
        cli(
            "elections",
            "create",
            congress.body_id,
            "--title",
            "IEC 2027",
            "--method",
            "meek",
            "--seats",
            "2",
            "--fills",
            iec["id"],
            "--json",
        )
    )
    election_id = created["id"]
    assert (created["method"], created["seats"], created["fills_body_id"]) == ("meek", 2, iec["id"])
    assert created == api(stack, "GET", f"/api/v1/elections/{election_id}")
    wrong = cli("elections", "create", congress.body_id, "--title", "T", "--method", "borda", "--seats", "1")
    assert wrong.returncode == 2 and "'borda' is not one of" in wrong.stderr

    tag = secrets.token_hex(3)
    for name, member in (("Rosa", rosa_d.member_id), ("Karl", None), ("Anna", None)):
        member_args = ["--member", member] if member else []
        ok(
            cli(
                "elections",
                "candidates",
                "add",
                election_id,
                "--name",
                name,
                "--email",
                f"{name}.{tag}@example.org",
                *member_args,
            )
        )
    standing = {c["name"]: c for c in api(stack, "GET", f"/api/v1/elections/{election_id}")["candidates"]}
    assert standing["Rosa"]["member_id"] == rosa_d.member_id
    shown = ok(cli("elections", "candidates", "withdraw", election_id, standing["Anna"]["id"]))
    assert next(r for r in table_rows(shown) if r[0] == standing["Anna"]["id"])[-1] == "yes"

    # Candidates from a CSV: every row checked first; one bad row and none is sent.
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"name,email,member_id\nClara,clara.{tag}@example.org,\nLuxemburg,nope,\n"
        f"Rosa twice,rosa2.{tag}@example.org,{rosa_d.member_id}\n",
        encoding="utf-8",
    )
    assert errors(cli("elections", "candidates", "import", election_id, str(bad)), 2) == [
        f"congress: {bad}:3: email: Not a valid email address.",
        f"congress: {bad}:4: member_id: {rosa_d.member_id} already stands in this election",
        f"congress: {bad}: 2 of 3 rows are invalid; nothing was sent",
    ]
    assert len(api(stack, "GET", f"/api/v1/elections/{election_id}")["candidates"]) == 3
    good = tmp_path / "good.csv"
    good.write_text(
        f"name,email,member_id\nClara,clara.{tag}@example.org,{clara_d.member_id}\nLuxemburg,lux.{tag}@example.org,\n",
        encoding="utf-8",
    )
    imported = as_json(cli("elections", "candidates", "import", election_id, str(good), "--json"))
    assert [(r["line"], r["name"]) for r in imported["imported"]] == [(2, "Clara"), (3, "Luxemburg")]
    standing = {c["name"]: c for c in api(stack, "GET", f"/api/v1/elections/{election_id}")["candidates"]}
    assert sorted(standing) == ["Anna", "Clara", "Karl", "Luxemburg", "Rosa"]

    listed = ok(cli("elections", "list", congress.body_id))
    assert next(r for r in table_rows(listed) if r[0] == election_id)[1:5] == ["IEC 2027", "meek", "2", iec["id"]]
    assert as_json(cli("elections", "list", congress.body_id, "--json")) == api(
        stack, "GET", f"/api/v1/bodies/{congress.body_id}/elections"
    )

    opened = as_json(cli("elections", "open", election_id, "--json"))
    ballot_id = opened["id"]
    assert (opened["status"], opened["kind"], opened["electorate"]) == ("open", "election", 3)
    assert api(stack, "GET", f"/api/v1/elections/{election_id}")["ballot_id"] == ballot_id
    late = one_line_error(
        cli("elections", "candidates", "add", election_id, "--name", "Late", "--email", f"late.{tag}@example.org")
    )
    assert late.startswith("congress: 409 conflict: ")

    # A delegate's own: open ballots, a vote by name, the same receipt on a retry.
    mine = ok(cli("my", "ballots", token=None, credential=rosa_d.credential))
    row = next(r for r in table_rows(mine) if r[0] == ballot_id)
    assert row[2:4] == ["election", "IEC 2027"] and row[-2:] == ["open", "yes"]
    assert re.search(rf"^{ballot_id}: candidates Clara, Karl, Luxemburg, Rosa; vote with --rank", mine, re.MULTILINE)
    me = requests.get(stack.url + "/api/v1/me/ballots", headers={"Authorization": rosa_d.auth}, timeout=30).json()
    assert as_json(cli("my", "ballots", "--json", token=None, credential=rosa_d.credential)) == me

    receipt_file = tmp_path / "receipt.json"
    voted = cli(
        "vote",
        ballot_id,
        "--rank",
        "Rosa, karl",
        "--save-receipt",
        str(receipt_file),
        token=None,
        credential=rosa_d.credential,
    )
    printed = fields_of(ok(voted))
    assert printed["voted"] == "Rosa, Karl"
    receipt = printed["receipt"]
    assert json.loads(receipt_file.read_text())["receipt"] == receipt
    assert receipt_file.stat().st_mode & 0o077 == 0  # the voter's eyes only
    again = as_json(cli("vote", ballot_id, "--rank", "Rosa,Karl", "--json", token=None, credential=rosa_d.credential))
    assert again == {"ballot_id": ballot_id, "receipt": receipt}  # a retry: the same receipt, one vote
    assert api(stack, "GET", f"/api/v1/ballots/{ballot_id}")["votes_cast"] == 1
    other = one_line_error(cli("vote", ballot_id, "--rank", "Karl", token=None, credential=rosa_d.credential))
    assert other.startswith("congress: 409 conflict: ") and "already voted" in other

    # The credential from a file; candidates by id as well as by name.
    credential_file = tmp_path / "credential"
    credential_file.write_text(karl_d.credential + "\n")
    by_id = f"{standing['Karl']['id']},Luxemburg"
    ok(cli("vote", ballot_id, "--rank", by_id, "--credential-file", str(credential_file), token=None))

    # Mistakes the command line catches before sending anything (status 2) and the API's (status 1).
    for args, said in (
        (["--rank", "Nobody"], "--rank: no standing candidate 'Nobody'; standing: Clara, Karl, Luxemburg, Rosa"),
        (["--rank", "Anna"], "--rank: no standing candidate 'Anna'"),
        (["--mark", "Rosa"], f"ballot {ballot_id} is a meek election: vote with --rank, not --mark"),
        (["--rank", "Rosa,rosa"], "--rank: a candidate appears twice"),
    ):
        (line,) = errors(cli("vote", ballot_id, *args, token=None, credential=clara_d.credential), 2)
        assert said in line, line
    assert cli("vote", ballot_id, "yes", "--rank", "Rosa", token=None, credential=clara_d.credential).returncode == 2
    (line,) = errors(cli("vote", ballot_id, "--rank", "Rosa", token=None), 2)
    assert "no credential: set CONGRESS_CREDENTIAL or give --credential-file FILE" in line
    motion_choice = one_line_error(cli("vote", ballot_id, "yes", token=None, credential=clara_d.credential))
    assert motion_choice.startswith("congress: 400 invalid_input: ")
    assert api(stack, "GET", f"/api/v1/ballots/{ballot_id}")["votes_cast"] == 2
    ok(cli("vote", ballot_id, "--rank", "Clara,Rosa,Luxemburg", token=None, credential=clara_d.credential))

    # Closed and counted: the round table names the candidates, never by id.
    closed = ok(cli("ballot", "close", ballot_id))
    result = api(stack, "GET", f"/api/v1/ballots/{ballot_id}")["result"]
    names = {c["id"]: c["name"] for c in standing.values()}
    elected = [names[c] for c in result["elected"]]
    assert f"result: elected: {', '.join(elected)}" in closed
    shown = ok(cli("elections", "show", election_id))
    assert f"result: elected: {', '.join(elected)}" in shown
    count = shown[shown.index("result:") :]
    header = next(line for line in count.splitlines() if line.startswith("candidate"))
    assert header.split()[1:3] == ["round", "1"]
    for candidate_id, name in names.items():
        assert candidate_id not in count
        if name != "Anna":  # withdrawn: not in the count
            assert re.search(rf"^{name}\s", count, re.MULTILINE), count
    assert re.search(rf"^{elected[0]}\s.*elected in round \d+$", count, re.MULTILINE), count
    assert "quota" in count and "exhausted" in count
    assert as_json(cli("elections", "show", election_id, "--json")) == api(
        stack, "GET", f"/api/v1/elections/{election_id}"
    )

    # The receipt, found in the published record.
    found = ok(cli("my", "receipt", ballot_id, "--receipt", receipt, token=None))
    assert f"receipt {receipt} is in the published record of ballot {ballot_id}" in found
    assert [r[1] for r in table_rows(found)] == ["Rosa", "Karl"]
    from_file = as_json(cli("my", "receipt", ballot_id, "--receipt-file", str(receipt_file), "--json", token=None))
    record = api(stack, "GET", f"/api/v1/ballots/{ballot_id}/record", token=None)
    assert (from_file["found"], from_file["digest"]) == (True, record["digest"])
    assert from_file["counted"]["ranking"] == [standing["Rosa"]["id"], standing["Karl"]["id"]]
    missing = one_line_error(cli("my", "receipt", ballot_id, "--receipt", "0" * 32, token=None))
    assert missing.startswith(f"congress: receipt {'0' * 32} is not in the published record of ballot {ballot_id}")


def test_a_delegate_votes_on_a_motion_and_in_a_block_election(stack: Stack, cli: Run, tmp_path: Path) -> None:
    congress = congress_in_session(stack, 2)
    first, second = congress.delegates
    _, motion_ballot = table_and_open(stack, congress.body_id)

    motion = as_json(cli("vote", motion_ballot["id"], "yes", "--json", token=None, credential=first.credential))
    assert motion["ballot_id"] == motion_ballot["id"] and len(motion["receipt"]) >= 16
    assert api(stack, "GET", f"/api/v1/ballots/{motion_ballot['id']}")["votes_cast"] == 1
    wrong = cli("vote", motion_ballot["id"], "maybe", token=None, credential=second.credential)
    assert wrong.returncode == 2 and "'maybe' is not one of 'yes', 'no', 'abstain'" in wrong.stderr
    (line,) = errors(cli("vote", motion_ballot["id"], "--rank", "Rosa", token=None, credential=second.credential), 2)
    assert "is on a motion: vote yes, no, abstain" in line

    election = as_json(
        cli("elections", "create", congress.body_id, "--title", "Block", "--method", "block", "--seats", "1", "--json")
    )
    for name in ("Rosa", "Karl"):
        ok(
            cli(
                "elections",
                "candidates",
                "add",
                election["id"],
                "--name",
                name,
                "--email",
                f"{name}.{secrets.token_hex(3)}@example.org",
            )
        )
    ballot = as_json(cli("elections", "open", election["id"], "--json"))
    (line,) = errors(cli("vote", ballot["id"], "--rank", "Rosa", token=None, credential=first.credential), 2)
    assert "is a block election: vote with --mark, not --rank" in line
    marked = fields_of(ok(cli("vote", ballot["id"], "--mark", "Karl", token=None, credential=first.credential)))
    assert marked["voted"] == "Karl"
    too_many = one_line_error(
        cli("vote", ballot["id"], "--mark", "Rosa,Karl", token=None, credential=second.credential)
    )
    assert too_many.startswith("congress: 400 invalid_input: ") and "at most 1" in too_many
    mine = as_json(cli("my", "ballots", "--json", token=None, credential=second.credential))
    assert {motion_ballot["id"], ballot["id"]} <= {b["id"] for b in mine["ballots"] if b["status"] == "open"}

    # One vote of two with a quorum of two: the election fails, and says why.
    closed = ok(cli("ballot", "close", ballot["id"]))
    result = api(stack, "GET", f"/api/v1/ballots/{ballot['id']}")["result"]
    assert (result["outcome"], result["elected"]) == ("failed", [])
    assert f"result: failed: {result['reason']}" in closed
    assert "Karl" in ok(cli("elections", "show", election["id"]))  # the round as cast, by name


# The Secretariat


def test_circulars_inboxes_webhooks_and_a_retried_delivery(stack: Stack, cli: Run, tmp_path: Path) -> None:
    code = register(stack)
    officer = as_json(cli("tokens", "issue", code, "--label", "secretary", "--json"))["token"]
    title = "Circular " + secrets.token_hex(3)
    text = tmp_path / "circular.txt"
    text.write_text("Comrades,\nthe congress opens on 10 January.\n", encoding="utf-8")

    with WebhookReceiver() as hooks:
        hook_name = "cli-" + secrets.token_hex(3)
        added = ok(
            cli(
                "webhooks",
                "add",
                "--url",
                hooks.url(hook_name),
                "--event",
                "circular.issued",
                "--section",
                code,
                "--description",
                "the archive",
            )
        )
        secret = re.search(r"^secret: (whsec_\S+)$", added, re.MULTILINE)
        assert secret, added
        webhook_id = fields_of(added)["id"]
        endpoint = hooks.endpoint(hook_name, secret[1])
        endpoint.always_fail = True
        assert next(w for w in api(stack, "GET", "/api/v1/webhooks")["webhooks"] if w["id"] == webhook_id)[
            "event_types"
        ] == ["circular.issued"]
        assert webhook_id in [r[0] for r in table_rows(ok(cli("webhooks", "list")))]
        assert as_json(cli("webhooks", "list", "--json")) == api(stack, "GET", "/api/v1/webhooks")
        assert cli("webhooks", "add", "--url", hooks.url("x"), "--event", "no.such").returncode == 2

        # A circular to our section (once the Secretariat has heard of it).
        issue = [
            "circulars",
            "issue",
            "--title",
            title,
            "--body-file",
            str(text),
            "--audience",
            "sections",
            "--section",
            code,
            "--json",
        ]
        done = eventually(
            lambda: (lambda r: r if r.returncode == 0 else None)(cli(*issue)),
            what="the Secretariat to know the section",
        )
        circular = json.loads(done.stdout)
        assert (circular["audience"], circular["sections"], circular["body"]) == ("sections", [code], text.read_text())
        assert circular["id"] in [r[0] for r in table_rows(ok(cli("circulars", "list")))]
        assert (
            cli("circulars", "issue", "--title", "t", "--body-file", str(text), "--audience", "sections").returncode
            == 2
        )
        (line,) = errors(cli("circulars", "issue", "--title", "t", "--body-file", str(tmp_path / "nope")), 2)
        assert line == f"congress: {tmp_path / 'nope'}: cannot read: No such file or directory"

        # The section's inbox, read by its officer.
        def unread() -> list[dict]:
            found = as_json(cli("inbox", code, "--unread", "--json", token=officer))["notifications"]
            return [n for n in found if n["subject"] == title]

        (notice,) = eventually(unread, what="the circular in the section's inbox")
        row = next(r for r in table_rows(ok(cli("inbox", code, token=officer))) if r[0] == str(notice["id"]))
        assert row[-1] == "no"
        read = ok(cli("inbox", "read", code, str(notice["id"]), token=officer))
        assert fields_of(read)["subject"] == title and text.read_text() in read
        assert unread() == []
        assert api(stack, "GET", f"/api/v1/sections/{code}/inbox")["notifications"][0]["read"] is True
        other = register(stack)
        refused = one_line_error(cli("inbox", other, token=officer))
        assert refused.startswith("congress: 403 forbidden: ")

        # The webhook delivery fails; once it has given up, a retry delivers it.
        recipient = f"webhook:{webhook_id}"

        def attempted() -> dict | None:
            found = as_json(cli("deliveries", "list", "--recipient", recipient, "--json"))["deliveries"]
            mine = [d for d in found if d["event_id"] == circular["event_id"] and d["attempts"] >= 1]
            return mine[0] if mine else None

        delivery = eventually(attempted, what="a first failed attempt")
        busy = one_line_error(cli("deliveries", "retry", delivery["id"]))
        assert busy.startswith("congress: 409 conflict: ") and "still being attempted" in busy
        give_up(stack, delivery["id"])
        failed = table_rows(ok(cli("deliveries", "list", "--status", "failed", "--recipient", recipient)))
        assert [r[0] for r in failed] == [delivery["id"]]
        endpoint.always_fail = False
        retried = as_json(cli("deliveries", "retry", delivery["id"], "--json"))
        assert retried["status"] == "pending" and retried["attempt_limit"] > delivery["attempt_limit"]
        eventually(
            lambda: api(stack, "GET", f"/api/v1/deliveries/{delivery['id']}")["status"] == "delivered",
            timeout=30,
            what="the retried delivery",
        )
        assert hooks.accepted(hook_name, lambda d: d.body["event_id"] == circular["event_id"])
        shown = ok(cli("deliveries", "show", delivery["id"]))
        assert fields_of(shown)["status"] == "delivered" and "failed" in shown  # the attempts, listed

        removed = fields_of(ok(cli("webhooks", "remove", webhook_id)))
        assert removed["deleted"] == "True"
        assert webhook_id not in [w["id"] for w in api(stack, "GET", "/api/v1/webhooks")["webhooks"]]
        assert one_line_error(cli("webhooks", "remove", "no-such-hook")).startswith("congress: 404 not_found: ")


def give_up(stack: Stack, delivery_id: str) -> None:
    """As the worker does after the last attempt (a real give-up takes a minute at the default
    backoff): failed, and no longer held, so a worker's late outcome cannot overwrite it."""
    with stack.engines["secretariat"].begin() as conn:
        done = conn.execute(
            sa.text("UPDATE deliveries SET status = 'failed', claim = NULL WHERE id = :id AND status = 'pending'"),
            {"id": delivery_id},
        )
    assert done.rowcount == 1
