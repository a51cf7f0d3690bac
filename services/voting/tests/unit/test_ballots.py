from __future__ import annotations

import pytest

from congress.errors import Conflict, Forbidden, InvalidInput
from voting.domain.ballots import CLOSED, OPEN, Ballot, Voter, check_repeat, check_vote

CHOICES = ("yes", "no", "abstain")


def ballot(status: str = "draft") -> Ballot:
    return Ballot(id="b1", body_id="congress-1", kind="motion", secrecy="secret", status=status)


def test_a_ballot_opens_once_and_closes_once() -> None:
    b = ballot()
    b.open()
    assert b.status == OPEN
    with pytest.raises(Conflict):
        b.open()
    assert b.close() is True and b.status == CLOSED
    assert b.close() is False  # a second close changes nothing and emits nothing
    with pytest.raises(Conflict):
        b.open()


def test_a_draft_ballot_cannot_be_closed() -> None:
    with pytest.raises(Conflict):
        ballot().close()


@pytest.mark.parametrize(
    ("status", "voter", "choice", "error"),
    [
        ("draft", Voter("m1", True), "yes", Conflict),
        ("closed", Voter("m1", True), "yes", Conflict),
        ("open", None, "yes", Forbidden),
        ("open", Voter("m1", True, revoked=True), "yes", Forbidden),
        ("open", Voter("m1", False), "yes", Forbidden),
        ("open", Voter("m1", True), "perhaps", InvalidInput),
    ],
)
def test_votes_that_must_be_refused(status: str, voter: Voter | None, choice: str, error: type) -> None:
    with pytest.raises(error):
        check_vote(ballot(status), voter, choice, CHOICES)


def test_a_voting_member_may_vote_in_an_open_ballot() -> None:
    check_vote(ballot("open"), Voter("m1", True), "abstain", CHOICES)


def test_a_retry_of_the_same_submission_is_recognised_and_a_different_vote_is_refused() -> None:
    assert check_repeat("req-1", "req-1", "yes", "yes") is True
    with pytest.raises(Conflict):
        check_repeat("req-1", "req-1", "yes", "no")
    with pytest.raises(Conflict):
        check_repeat("req-1", "req-2", "yes", "yes")
    with pytest.raises(Conflict):  # no earlier ballot under this receipt (a reissued credential)
        check_repeat("req-1", "req-1", None, "yes")
