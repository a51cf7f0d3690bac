"""The ballot aggregate: open, vote, close and declare, in memory."""

from __future__ import annotations

from typing import Any

import pytest

from congress.errors import Conflict, Forbidden, InvalidInput
from congress_counting.record import recount
from voting.domain.ballots import CLOSED, OPEN, Ballot, Body, Motion, Seat, Voter, check_repeat

VOTER = Voter("m1", deliberative=True, in_electorate=True)


def body(seats: int = 5, quorum: int | None = None, congress_status: str | None = None) -> Body:
    voting = [Seat(f"m{i}", deliberative=True, accredited=True) for i in range(1, seats + 1)]
    others = [Seat("consultative", deliberative=False, accredited=True), Seat("absent", True, accredited=False)]
    return Body("b1", "congress", "World Congress", quorum, voting + others, congress_status)


def motion(ballot_id: str | None = None) -> Motion:
    return Motion("mo1", "b1", "Adopt the programme", "simple", ballot_id)


def opened(**kwargs: Any) -> Ballot:
    return Ballot.open("ba1", body(**kwargs), motion())


def test_opening_fixes_the_electorate_the_quorum_and_says_so() -> None:
    subject = motion()
    ballot = Ballot.open("ba1", body(seats=5), subject, "named")

    assert ballot.status == OPEN and ballot.secrecy == "named"
    assert ballot.roll == ("m1", "m2", "m3", "m4", "m5")  # neither the consultative nor the unaccredited
    assert (ballot.electorate, ballot.quorum) == (5, 3)  # more than half
    assert subject.ballot_id == "ba1"
    assert ballot.events == [
        (
            "ballot.opened",
            {
                "ballot_id": "ba1",
                "body_id": "b1",
                "kind": "motion",
                "subject_id": "mo1",
                "secrecy": "named",
                "electorate": 5,
                "quorum": 3,
            },
        )
    ]


def test_a_body_quorum_applies_and_a_motion_ballot_is_secret_unless_asked() -> None:
    ballot = opened(quorum=2)

    assert (ballot.quorum, ballot.secrecy) == (2, "secret")


@pytest.mark.parametrize(
    ("the_body", "subject", "says"),
    [
        (body(congress_status="convened"), motion(), "ballots open only while it is in session"),
        (body(seats=0), motion(), "no accredited voting members"),
        (body(), motion(ballot_id="earlier"), "motion mo1 already has a ballot"),
    ],
)
def test_a_ballot_that_may_not_open(the_body: Body, subject: Motion, says: str) -> None:
    with pytest.raises(Conflict, match=says):
        Ballot.open("ba1", the_body, subject)


def test_a_closed_congress_takes_no_new_motions_and_one_in_session_does() -> None:
    body(congress_status="in_session").check_takes_motions()
    with pytest.raises(Conflict, match="closed; it takes no new motions"):
        body(congress_status="closed").check_takes_motions()


@pytest.mark.parametrize(
    ("closed", "voter", "vote", "error", "says"),
    [
        (True, VOTER, {"choice": "yes"}, Conflict, "not open for votes"),
        (False, None, {"choice": "yes"}, Forbidden, "not a member of the body"),
        (False, Voter("m1", True, True, revoked=True), {"choice": "yes"}, Forbidden, "revoked"),
        (False, Voter("m1", False, False), {"choice": "yes"}, Forbidden, "consultative"),
        (False, Voter("m9", True, in_electorate=False), {"choice": "yes"}, Forbidden, "when this ballot opened"),
        (False, VOTER, {"ranking": ["c1"]}, InvalidInput, "give `choice`"),
    ],
)
def test_votes_that_must_be_refused(
    closed: bool, voter: Voter | None, vote: dict, error: type[Exception], says: str
) -> None:
    ballot = opened()
    if closed:
        ballot.close()

    with pytest.raises(error, match=says):
        ballot.cast(voter, motion(), vote)


def test_a_voting_member_of_the_electorate_votes_in_an_open_ballot() -> None:
    assert opened().cast(VOTER, motion(), {"choice": "abstain"}) == ("abstain", None)


def test_a_ballot_closes_once_and_is_declared_only_once_closed() -> None:
    ballot = opened()
    with pytest.raises(Conflict, match="declared when it closes"):
        ballot.declare(motion(), [], [])

    assert ballot.close() is True and ballot.status == CLOSED
    assert ballot.close() is False  # a second close changes nothing and emits nothing


def box(*choices: str) -> list[dict[str, Any]]:
    return [{"receipt": f"r{i}", "choice": c, "ranking": None} for i, c in enumerate(choices)]


def participants(n: int) -> list[dict[str, Any]]:
    return [{"member_id": f"m{i}", "name": f"Delegate {i}", "section": "ew"} for i in range(n)]


@pytest.mark.parametrize(
    ("choices", "outcome"),
    [(("yes", "yes", "no"), "adopted"), (("yes", "no", "no"), "rejected"), (("yes", "yes"), "no_quorum")],
)
def test_a_motion_is_decided_with_its_quorum_and_says_so(choices: tuple[str, ...], outcome: str) -> None:
    ballot = opened()
    ballot.close()

    declared = ballot.declare(motion(), box(*choices), participants(len(choices)))

    assert [t for t, _ in declared.events] == ["ballot.closed", "motion.decided"]
    closed, decided = (data for _, data in declared.events)
    assert closed == {
        "ballot_id": "ba1",
        "body_id": "b1",
        "kind": "motion",
        "votes_cast": len(choices),
        "electorate": 5,
        "digest": declared.record["digest"],
    }
    assert decided["outcome"] == outcome and decided["quorum"] == 3
    assert declared.fills_body_id is None
    assert recount(declared.record) == declared.record["result"]


def test_filling_a_body_seats_the_elected_and_says_who_came_and_went() -> None:
    filled = Body("iec", "iec", "IEC", None, [Seat("old", True, True), Seat("kept", True, False)])

    change = filled.fill(["kept", "new"])

    assert (change.members, change.added, change.removed) == (["kept", "new"], ["new"], ["old"])
    assert filled.seats == [Seat("kept", True, True), Seat("new", True, True)]  # all accredited voters


def test_a_retry_of_the_same_submission_is_recognised_and_a_different_vote_is_refused() -> None:
    assert check_repeat("req-1", "req-1", "yes", "yes") is True
    with pytest.raises(Conflict):
        check_repeat("req-1", "req-1", "yes", "no")
    with pytest.raises(Conflict):
        check_repeat("req-1", "req-2", "yes", "yes")
    with pytest.raises(Conflict):  # no earlier ballot under this receipt (a reissued credential)
        check_repeat("req-1", "req-1", None, "yes")
