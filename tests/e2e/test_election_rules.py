"""Issue 13 acceptance on the real stack, once per store: elections keep the quorum (only an
election that reaches it is declared, and only it changes the body), `congress count ballot`
recounts every method's record to the service's result, a non-delegate elected to the IEC votes
in the IEC with the credential they were emailed and receives the IEC's circular, and what the
rules refuse is refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from congress.contract import EnvelopeSchema
from tests.e2e.conftest import Stack, running_stack
from tests.support import infra
from tests.support.congress import Congress, Delegate, congress_in_session, table_and_open
from tests.support.infra import eventually
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).with_name("congress")
METHODS = ("meek", "wigm", "block")
DELEGATES = 5  # quorum 3: more than half
CREDENTIAL = re.compile(r"\b(dc_[A-Za-z0-9_-]{20,})")


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text}"
    return answer.json()


@pytest.fixture(scope="module")
def congress(stack: Stack) -> Congress:
    return congress_in_session(stack, delegates=DELEGATES)


def new_body(stack: Stack, kind: str) -> dict:
    name = f"{kind.upper()} {uuid.uuid4().hex[:6]}"
    return ok(stack.api("POST", "/api/v1/bodies", json={"kind": kind, "name": name}), 201)


def stand(stack: Stack, election_id: str, name: str, email: str, member_id: str | None = None) -> requests.Response:
    return stack.api(
        "POST",
        f"/api/v1/elections/{election_id}/candidates",
        json={"name": name, "email": email, **({"member_id": member_id} if member_id else {})},
    )


def new_election(stack: Stack, electing: str, fills: str | None, seats: int, method: str) -> dict:
    return ok(
        stack.api(
            "POST",
            f"/api/v1/bodies/{electing}/elections",
            json={"title": f"{method} election of {seats}", "seats": seats, "method": method, "fills_body_id": fills},
        ),
        201,
    )


def election_of(
    stack: Stack, electing: str, fills: str | None, seats: int, method: str, people: list[Delegate]
) -> dict:
    """An election with these delegates standing, its ballot open."""
    created = new_election(stack, electing, fills, seats, method)
    for person in people:
        ok(stand(stack, created["id"], person.name, f"{person.member_id[:8]}@example.org", person.member_id), 201)
    return ok(stack.api("GET", f"/api/v1/elections/{created['id']}"))


def open_ballot(stack: Stack, election: dict) -> dict:
    return ok(stack.api("POST", f"/api/v1/elections/{election['id']}/ballot"), 201)


def vote(stack: Stack, credential: str, ballot_id: str, method: str, order: list[str], seats: int) -> None:
    what = {"marks": order[:seats]} if method == "block" else {"ranking": order}
    ok(stack.api("POST", f"/api/v1/ballots/{ballot_id}/votes", token=f"Bearer {credential}", json=what), 201)


def close(stack: Stack, ballot_id: str) -> dict:
    return ok(stack.api("POST", f"/api/v1/ballots/{ballot_id}/close"))


def member_ids(stack: Stack, body_id: str) -> set[str]:
    return {m["id"] for m in ok(stack.api("GET", f"/api/v1/bodies/{body_id}/members"))["members"]}


def voting_events(stack: Stack, *types: str) -> list[dict]:
    """The voting service's event log of these types, every page: written in the same transaction
    as what they report, so a close that has answered has logged all it will ever log."""
    seen: list[dict] = []
    after = 0
    while True:
        page = ok(stack.api("GET", f"/api/v1/events/voting?types={','.join(types)}&after={after}&limit=1000"))
        if not page["events"]:
            return seen
        seen += [entry["event"] for entry in page["events"]]
        after = page["next_after"]


def candidates_in_order(election: dict) -> list[str]:
    return [c["id"] for c in sorted(election["candidates"], key=lambda c: c["name"])]


# 1. Only an election that reaches its quorum is declared, and only it changes the body.


@pytest.mark.parametrize("method", METHODS)
def test_only_the_election_that_reaches_its_quorum_is_declared_and_changes_the_body(
    stack: Stack, congress: Congress, method: str
) -> None:
    iec = new_body(stack, "iec")
    sitting = ok(
        stack.api("POST", f"/api/v1/bodies/{iec['id']}/members", json={"name": "Sitting", "email": "s@x.org"}), 201
    )
    standing = congress.delegates[:3]
    outcomes = {}
    for votes in (0, 2, 3):  # none, fewer than the quorum of 3, exactly the quorum
        election = election_of(stack, congress.body_id, iec["id"], 2, method, standing)
        ballot = open_ballot(stack, election)
        assert (ballot["electorate"], ballot["quorum"], ballot["secrecy"]) == (DELEGATES, 3, "secret")
        order = candidates_in_order(election)
        for i, voter in enumerate(congress.delegates[:votes]):
            vote(stack, voter.credential, ballot["id"], method, order[i % 3 :] + order[: i % 3], seats=2)
        result = close(stack, ballot["id"])["result"]
        outcomes[votes] = (election, ballot, result, member_ids(stack, iec["id"]))

    for votes in (0, 2):
        election, ballot, result, members = outcomes[votes]
        assert result["outcome"] == "failed", result
        assert (result["elected"], result["elected_names"], result["quorum_met"]) == ([], [], False)
        assert (result["votes_cast"], result["quorum"]) == (votes, 3)
        assert result["reason"] == f"Quorum not met: {votes} of {DELEGATES} voted, 3 needed. No one is elected."
        assert members == {sitting["id"]}  # the body as it was
    election, ballot, result, members = outcomes[3]
    assert result["outcome"] == "elected" and result["quorum_met"] is True and len(result["elected"]) == 2
    member_of = {c["id"]: c["member_id"] for c in election["candidates"]}
    assert members == {member_of[c] for c in result["elected"]}
    assert all(set(r["names"]) == set(r["votes"]) for r in result["rounds"])

    elections = {outcomes[v][0]["id"]: v for v in outcomes}
    declared = {
        elections[e["data"]["election_id"]]: e
        for e in voting_events(stack, "election.result_declared")
        if e["data"]["election_id"] in elections
    }
    assert sorted(declared) == [0, 2, 3]
    for votes, event in declared.items():
        EnvelopeSchema().load(event)
        data = event["data"]
        assert (data["outcome"], data["quorum"], data["quorum_met"], data["votes_cast"]) == (
            "failed" if votes < 3 else "elected",
            3,
            votes == 3,
            votes,
        )
        elected = [e["candidate_id"] for e in data["elected"]]
        assert elected == ([] if votes < 3 else result["elected"])
    changes = [e for e in voting_events(stack, "body.membership_changed") if e["data"]["body_id"] == iec["id"]]
    assert len(changes) == 1 and changes[0]["data"]["reason"].startswith(f"election {outcomes[3][0]['id']}")


# 2. `congress count ballot` on the published record gives the service's elected and rounds.


def count_ballot(stack: Stack, tmp_path: Path, record: dict) -> dict:
    path = tmp_path / f"{record['ballot']['id']}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    env = {**os.environ, "CONGRESS_TOKEN": stack.observer_token, "CONGRESS_CONFIG": str(tmp_path / "none.json")}
    done = subprocess.run(
        [str(CLI), "count", "ballot", str(path), "--url", stack.url, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("method", METHODS)
def test_the_command_line_recounts_every_methods_record_to_the_services_result(
    stack: Stack, congress: Congress, method: str, tmp_path: Path
) -> None:
    for votes in (DELEGATES, 1):  # declared, and failed
        election = election_of(stack, congress.body_id, None, 2, method, congress.delegates[:4])
        ballot = open_ballot(stack, election)
        order = candidates_in_order(election)
        for i, voter in enumerate(congress.delegates[:votes]):
            vote(stack, voter.credential, ballot["id"], method, order[i % 4 :] + order[: i % 4], seats=2)
        result = close(stack, ballot["id"])["result"]
        record = ok(stack.api("GET", f"/api/v1/ballots/{ballot['id']}/record", token="observer"))

        checked = count_ballot(stack, tmp_path, record)

        assert checked["ballot_closed"]["compared"] is True
        recounted = checked["result"]
        assert (recounted["elected"], recounted["rounds"]) == (result["elected"], result["rounds"])
        assert recounted["outcome"] == result["outcome"] == ("elected" if votes == DELEGATES else "failed")


# 3. The chain: a non-delegate elected to the IEC votes there with the credential emailed to them,
#    and receives the IEC's circulars.


@dataclass
class Mailed:
    stack: Stack
    mailbox: Mailbox


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def mailed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailed]:
    """A stack of its own whose Secretariat mails to our SMTP server (its own vhost: its IEC is the
    only one its Secretariat knows)."""
    vhost = infra.create_vhost()
    if vhost is None:
        pytest.skip("needs rabbitmqctl to give this stack a vhost of its own")
    try:
        with Mailbox() as mailbox:
            env = {
                "SMTP_HOST": mailbox.host,
                "SMTP_PORT": str(mailbox.port),
                "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
            }
            workdir = tmp_path_factory.mktemp(f"election-rules-{request.param}")
            with running_stack(request.param, infra.amqp_uri(vhost), workdir, extra_env=env) as stack:
                yield Mailed(stack, mailbox)
    finally:
        infra.delete_vhost(vhost)


def test_a_non_delegate_elected_to_the_iec_votes_there_with_the_credential_sent_and_hears_its_circulars(
    mailed: Mailed,
) -> None:
    stack, mailbox = mailed.stack, mailed.mailbox
    congress = congress_in_session(stack, delegates=DELEGATES)
    iec, is_ = new_body(stack, "iec"), new_body(stack, "is")
    outsider_email = f"clara.{uuid.uuid4().hex[:6]}@example.org"

    iec_election = election_of(stack, congress.body_id, iec["id"], 3, "meek", congress.delegates[:3])
    ok(stand(stack, iec_election["id"], "Clara Outside", outsider_email), 201)  # no member id: not a delegate
    iec_election = ok(stack.api("GET", f"/api/v1/elections/{iec_election['id']}"))
    clara = next(c["id"] for c in iec_election["candidates"] if c["name"] == "Clara Outside")
    ballot = open_ballot(stack, iec_election)
    others = [c for c in candidates_in_order(iec_election) if c != clara]
    for i, voter in enumerate(congress.delegates):
        vote(stack, voter.credential, ballot["id"], "meek", [clara, *others[i % 3 :], *others[: i % 3]], seats=3)
    result = close(stack, ballot["id"])["result"]
    assert result["outcome"] == "elected" and clara in result["elected"]

    members = ok(stack.api("GET", f"/api/v1/bodies/{iec['id']}/members"))["members"]
    (seated,) = [m for m in members if m["email"] == outsider_email]
    assert seated["accredited"] and seated["deliberative"] and not seated["credential_revoked"]
    assert ok(stack.api("GET", f"/api/v1/bodies/{iec['id']}"))["voting_members"] == 3
    (mail,) = mailbox.wait_for(lambda m: outsider_email in m.rcpt_tos and "credential" in m.subject.lower())
    sent = CREDENTIAL.search(mail.part("text/plain"))
    assert sent is not None, mail.part("text/plain")
    assert iec["name"] in mail.part("text/plain")

    # The IEC elects the IS; the newcomer votes with what the email said.
    iec_members = [d for d in congress.delegates if d.member_id in {m["id"] for m in members}]
    is_election = election_of(stack, iec["id"], is_["id"], 1, "block", iec_members[:2])
    is_ballot = open_ballot(stack, is_election)
    assert is_ballot["electorate"] == 3
    first = candidates_in_order(is_election)[0]
    vote(stack, sent.group(1), is_ballot["id"], "block", [first], seats=1)
    for member in iec_members:
        vote(stack, member.credential, is_ballot["id"], "block", [first], seats=1)
    is_result = close(stack, is_ballot["id"])["result"]
    assert is_result["outcome"] == "elected" and is_result["votes_cast"] == 3 and is_result["elected"] == [first]

    # A circular to the IEC reaches every member, the newcomer too, as soon as the Secretariat
    # has heard of the new IEC (until then it has no IEC to address: 409).
    title = f"IEC meets {uuid.uuid4().hex[:6]}"
    circular = {"title": title, "body": "Comrades, the IEC meets on Monday.", "audience": "iec"}

    def issued() -> Any:
        answer = stack.api("POST", "/api/v1/circulars", json=circular)
        assert answer.status_code in (201, 409), answer.text
        return answer.json() if answer.status_code == 201 else None

    sent_circular = eventually(issued, timeout=30, what="the Secretariat to know the new IEC")
    assert sent_circular["recipients"] == 3
    for email in {m["email"] for m in members}:  # the newcomer's among them
        mailbox.wait_for(lambda m, email=email: email in m.rcpt_tos and m.subject == title)


# 4. What the rules refuse.


def test_the_same_person_cannot_stand_twice_in_one_election(stack: Stack, congress: Congress) -> None:
    election = new_election(stack, congress.body_id, None, 1, "meek")
    rosa = congress.delegates[0]
    ok(stand(stack, election["id"], rosa.name, "rosa.twice@example.org", rosa.member_id), 201)
    ok(stand(stack, election["id"], "Karl", "Karl@Example.org"), 201)

    by_member = stand(stack, election["id"], "Rosa again", "other@example.org", rosa.member_id)
    by_email = stand(stack, election["id"], "Karl again", "kARL@example.ORG")

    assert by_member.status_code == 409 and by_member.json()["error"]["fields"] == {
        "member_id": ["already a candidate in this election"]
    }
    assert by_email.status_code == 409 and by_email.json()["error"]["fields"] == {
        "email": ["already a candidate in this election"]
    }
    assert len(ok(stack.api("GET", f"/api/v1/elections/{election['id']}"))["candidates"]) == 2


def test_an_election_ballot_asked_to_be_named_is_refused_not_made_secret(stack: Stack, congress: Congress) -> None:
    election = election_of(stack, congress.body_id, None, 1, "wigm", congress.delegates[:2])

    refused = stack.api("POST", f"/api/v1/elections/{election['id']}/ballot", json={"secrecy": "named"})

    assert refused.status_code == 400, refused.text
    assert "secrecy" in refused.json()["error"]["fields"]
    assert ok(stack.api("GET", f"/api/v1/elections/{election['id']}"))["ballot_id"] is None  # nothing opened
    opened = ok(stack.api("POST", f"/api/v1/elections/{election['id']}/ballot", json={"secrecy": "secret"}), 201)
    assert opened["secrecy"] == "secret"
    close(stack, opened["id"])


def test_a_closed_congress_takes_no_new_motions(stack: Stack) -> None:
    closing = congress_in_session(stack, delegates=1)
    table_and_open(stack, closing.body_id)  # in session, it does
    ballot_ids = [m["ballot_id"] for m in ok(stack.api("GET", f"/api/v1/bodies/{closing.body_id}/motions"))["motions"]]
    for ballot_id in ballot_ids:
        close(stack, ballot_id)
    ok(stack.api("POST", f"/api/v1/congresses/{closing.id}/close"))

    refused = stack.api(
        "POST",
        f"/api/v1/bodies/{closing.body_id}/motions",
        json={"title": "Too late", "text": "…", "mover": "IEC"},
    )

    assert refused.status_code == 409, refused.text
    assert "closed" in refused.json()["error"]["message"]
