"""Issue 7 acceptance on the real stack, once per store: the Congress elects a 7-seat IEC by
STV, the IEC body changes, the IEC elects a 3-seat IS, and a plain kombu subscriber receives
both `election.result_declared` events."""

from __future__ import annotations

import uuid

import pytest

from congress.contract import EnvelopeSchema
from congress_counting.record import recount
from tests.e2e.conftest import Stack
from tests.support.congress import Congress, Delegate, congress_in_session
from tests.support.infra import EventTap

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def congress(stack: Stack) -> Congress:
    return congress_in_session(stack, delegates=15)


def ok(answer, status: int = 200) -> dict:
    assert answer.status_code == status, answer.text
    return answer.json()


def body(stack: Stack, kind: str) -> dict:
    return ok(
        stack.api("POST", "/api/v1/bodies", json={"kind": kind, "name": f"{kind.upper()} {uuid.uuid4().hex[:6]}"}), 201
    )


def election(
    stack: Stack, electing: str, fills: str | None, seats: int, method: str, candidates: list[Delegate]
) -> tuple[dict, dict[str, str]]:
    created = ok(
        stack.api(
            "POST",
            f"/api/v1/bodies/{electing}/elections",
            json={"title": f"Election of {seats}", "seats": seats, "method": method, "fills_body_id": fills},
        ),
        201,
    )
    for person in candidates:
        ok(
            stack.api(
                "POST",
                f"/api/v1/elections/{created['id']}/candidates",
                json={
                    "name": person.name,
                    "email": f"{person.member_id[:8]}@example.org",
                    "member_id": person.member_id,
                },
            ),
            201,
        )
    listed = ok(stack.api("GET", f"/api/v1/elections/{created['id']}"))["candidates"]
    return created, {c["member_id"]: c["id"] for c in listed}


def vote(stack: Stack, voter: Delegate, ballot_id: str, **what) -> dict:
    return ok(stack.api("POST", f"/api/v1/ballots/{ballot_id}/votes", token=voter.auth, json=what), 201)


def test_the_congress_elects_the_iec_and_the_iec_elects_the_is(stack: Stack, congress: Congress) -> None:
    iec, is_ = body(stack, "iec"), body(stack, "is")
    standing = congress.delegates[:10]
    with (
        EventTap(stack.amqp_uri, "voting.events", "election.result_declared") as declarations,
        EventTap(stack.amqp_uri, "voting.events", "body.membership_changed") as changes,
    ):
        iec_election, candidate_of = election(stack, congress.body_id, iec["id"], 7, "wigm", standing)
        ballot = ok(stack.api("POST", f"/api/v1/elections/{iec_election['id']}/ballot"), 201)
        # Each delegate ranks the candidates from a different starting point: everyone's first choice
        # differs enough that surpluses and exclusions both happen.
        order = [candidate_of[d.member_id] for d in standing]
        for i, voter in enumerate(congress.delegates):
            vote(stack, voter, ballot["id"], ranking=(order[i % 10 :] + order[: i % 10])[:6])
        closed = ok(stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close"))

        result = closed["result"]
        assert result["method"] == "wigm" and len(result["elected"]) == 7
        assert len(result["rounds"]) >= 2
        members = ok(stack.api("GET", f"/api/v1/bodies/{iec['id']}/members"))["members"]
        elected_members = {m for m, c in candidate_of.items() if c in result["elected"]}
        assert {m["id"] for m in members} == elected_members
        assert ok(stack.api("GET", f"/api/v1/bodies/{iec['id']}"))["voting_members"] == 7
        record = ok(stack.api("GET", f"/api/v1/ballots/{ballot['id']}/record"))
        assert recount(record) == result

        # The new IEC, voting with the credentials its members hold as delegates, elects the IS.
        iec_members = [d for d in congress.delegates if d.member_id in elected_members]
        is_election, is_candidate_of = election(stack, iec["id"], is_["id"], 3, "meek", iec_members[:5])
        is_ballot = ok(stack.api("POST", f"/api/v1/elections/{is_election['id']}/ballot"), 201)
        assert is_ballot["electorate"] == 7
        outsider = next(d for d in congress.delegates if d.member_id not in elected_members)
        refused = stack.api(
            "POST",
            f"/api/v1/ballots/{is_ballot['id']}/votes",
            token=outsider.auth,
            json={"ranking": [is_candidate_of[iec_members[0].member_id]]},
        )
        assert refused.status_code == 403  # a delegate of the congress, but not of the IEC
        is_order = [is_candidate_of[d.member_id] for d in iec_members[:5]]
        for i, voter in enumerate(iec_members):
            vote(stack, voter, is_ballot["id"], ranking=is_order[i % 5 :] + is_order[: i % 5])
        is_result = ok(stack.api("POST", f"/api/v1/ballots/{is_ballot['id']}/close"))["result"]
        assert is_result["method"] == "meek" and len(is_result["elected"]) == 3
        is_members = ok(stack.api("GET", f"/api/v1/bodies/{is_['id']}/members"))["members"]
        assert {m["id"] for m in is_members} == {m for m, c in is_candidate_of.items() if c in is_result["elected"]}

        declared = declarations.wait_for(lambda e: e["data"]["election_id"] == is_election["id"])
        changed = changes.wait_for(lambda e: e["data"]["body_id"] == is_["id"])
    mine = {
        e["data"]["election_id"]: e
        for e in declared
        if e["data"]["election_id"] in (iec_election["id"], is_election["id"])
    }
    assert set(mine) == {iec_election["id"], is_election["id"]}
    for event in mine.values():
        EnvelopeSchema().load(event)
    assert [c["candidate_id"] for c in mine[iec_election["id"]]["data"]["elected"]] == result["elected"]
    assert mine[iec_election["id"]]["data"]["rounds"] == result["rounds"]
    iec_change = next(e for e in changed if e["data"]["body_id"] == iec["id"])
    assert sorted(iec_change["data"]["members"]) == sorted(elected_members)


def test_ranked_and_block_ballots_are_validated_and_candidates_withdraw_only_before_the_ballot(
    stack: Stack, congress: Congress
) -> None:
    created, candidate_of = election(stack, congress.body_id, None, 2, "block", congress.delegates[10:14])
    ids = list(candidate_of.values())
    withdrawn = ok(stack.api("POST", f"/api/v1/elections/{created['id']}/candidates/{ids[3]}/withdraw"))
    assert [c["withdrawn"] for c in withdrawn["candidates"] if c["id"] == ids[3]] == [True]
    ballot = ok(stack.api("POST", f"/api/v1/elections/{created['id']}/ballot"), 201)
    voter = congress.delegates[0]

    def refused(**what) -> dict:
        answer = stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token=voter.auth, json=what)
        assert answer.status_code == 400, answer.text
        return answer.json()["error"]["fields"]

    assert "marks" in refused(marks=ids[:3])  # three marks for two seats
    assert "marks" in refused(marks=[ids[0], ids[0]])
    assert "marks" in refused(marks=[ids[3]])  # withdrawn
    assert "marks" in refused(marks=["nobody"])
    assert "marks" in refused(ranking=ids[:2])  # a block vote takes marks
    assert "_schema" in refused(choice="yes", marks=ids[:1])
    late = stack.api("POST", f"/api/v1/elections/{created['id']}/candidates/{ids[0]}/withdraw")
    assert late.status_code == 409

    for i, delegate in enumerate(congress.delegates[:9]):
        vote(stack, delegate, ballot["id"], marks=[ids[0], ids[1 + i % 2]])
    result = ok(stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close"))["result"]
    assert result["method"] == "block" and result["elected"][0] == ids[0]
