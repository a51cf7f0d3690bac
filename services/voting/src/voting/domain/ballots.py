"""A ballot's life and the rules for a vote in it. No framework, no database.

    draft ──open──▶ open ──close──▶ closed

Only the body's current voting members vote, once each; a retry of the same submission gets
the same receipt back, a second different vote is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from congress.errors import Conflict, Forbidden, InvalidInput

DRAFT, OPEN, CLOSED = "draft", "open", "closed"
SECRECY = ("secret", "named")


@dataclass
class Ballot:
    id: str
    body_id: str
    kind: str  # "motion" or "election"
    secrecy: str
    status: str = DRAFT

    def open(self) -> None:
        if self.status != DRAFT:
            raise Conflict(f"ballot {self.id} is {self.status}; only a draft ballot can be opened", {})
        self.status = OPEN

    def close(self) -> bool:
        """Close it; False if it was already closed (closing twice is not an error, nor a second close)."""
        if self.status == CLOSED:
            return False
        if self.status != OPEN:
            raise Conflict(f"ballot {self.id} is {self.status}; only an open ballot can be closed", {})
        self.status = CLOSED
        return True


@dataclass(frozen=True)
class Voter:
    member_id: str
    voting: bool  # deliberative; consultative delegates and observers speak but do not vote
    revoked: bool = False


def check_vote(ballot: Ballot, voter: Voter | None, choice: str | None, choices: tuple[str, ...]) -> None:
    """Everything that must hold before a vote is accepted; raises the error to show the voter."""
    if ballot.status != OPEN:
        raise Conflict(f"ballot {ballot.id} is {ballot.status}, not open for votes", {"ballot": [ballot.status]})
    if voter is None:
        raise Forbidden(f"you are not a member of the body this ballot belongs to ({ballot.body_id})")
    if voter.revoked:
        raise Forbidden("your credential has been revoked")
    if not voter.voting:
        raise Forbidden("consultative members do not vote")
    if choices and choice not in choices:
        raise InvalidInput(f"not a choice on this ballot: {choice!r}", {"choice": [f"one of {', '.join(choices)}"]})


def check_repeat(previous_request_id: str, request_id: str, previous_choice: object, choice: object) -> bool:
    """A voter who has voted already: True if this is a retry of that same submission."""
    # The earlier ballot must be found under this receipt: after a reissued credential it is not.
    if previous_request_id == request_id and previous_choice is not None and previous_choice == choice:
        return True
    raise Conflict("you have already voted in this ballot", {"choice": ["already voted"]})
