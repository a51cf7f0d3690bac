"""A ballot's life, for motions and elections alike: the aggregate the use cases load, call and save.
No framework, no database.

    open ──close──▶ closed, then declared: a motion adopted, rejected or without quorum;
                    an election elected or failed (quorum not met, or no valid vote)

- Open: the body's accredited deliberative members at that moment are the electorate, fixed for
  the ballot's life; the quorum is the body's, or more than half that electorate. A congress's
  ballots open only while it is in session; a subject has one ballot.
- Vote: only while open, only a member of the electorate who is deliberative and whose credential
  is not revoked, and only a vote its subject can read; once each (a retry gets its receipt back).
- Close: exactly once; closing a closed ballot again changes nothing.
- Declare: the count and its record (congress_counting.record), the events that say so, and, for an
  election that elects the members of a body, the body to fill. A failed election fills nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from congress.errors import Conflict, Forbidden, InvalidInput
from congress_counting.motions import default_quorum, tally
from congress_counting.record import decision_summary, motion_record
from voting.domain.congresses import may_vote

OPEN, CLOSED = "open", "closed"

Event = tuple[str, dict[str, Any]]
Voted = tuple[str | None, list[str] | None]  # (choice, ranking): a motion's choice, an election's ranking


@dataclass(frozen=True)
class Seat:
    member_id: str
    deliberative: bool  # consultative delegates and observers speak but do not vote
    accredited: bool


@dataclass(frozen=True)
class MembershipChange:
    members: list[str]
    added: list[str]
    removed: list[str]


@dataclass
class Body:
    """A body with an electorate: a congress, the IEC, the IS."""

    id: str
    kind: str
    name: str
    quorum: int | None  # None: more than half the voting members
    seats: list[Seat] = field(default_factory=list)
    congress_status: str | None = None  # the congress's, when the body is a congress's

    def voting_members(self) -> list[str]:
        return sorted(s.member_id for s in self.seats if s.deliberative and s.accredited)

    def check_takes_motions(self) -> None:
        if self.congress_status == "closed":
            raise Conflict(f"the congress {self.name!r} is closed; it takes no new motions", {})

    def check_may_vote(self) -> None:
        if self.congress_status is not None:
            may_vote(self.congress_status)

    def fill(self, elected: Sequence[str]) -> MembershipChange:
        """The elected become the body's voting members, accredited; those they replace leave it."""
        before = {s.member_id for s in self.seats}
        members = list(dict.fromkeys(elected))
        self.seats = [Seat(m, deliberative=True, accredited=True) for m in members]
        return MembershipChange(members, sorted(set(members) - before), sorted(before - set(members)))


class Subject(Protocol):
    """What a ballot decides: a motion or an election."""

    kind: ClassVar[str]
    id: str
    body_id: str
    ballot_id: str | None

    def check_opening(self) -> None: ...
    def ballot_secrecy(self, asked: str | None) -> str: ...
    def read_vote(self, vote: Mapping[str, Any]) -> Voted: ...
    def declare(self, ballot: Ballot, box: Sequence[Mapping[str, Any]], participants: list[dict]) -> Declaration: ...


@dataclass
class Motion:
    kind: ClassVar[str] = "motion"
    id: str
    body_id: str
    title: str
    majority_rule: str
    ballot_id: str | None = None

    def check_opening(self) -> None:
        if self.ballot_id is not None:
            raise Conflict(f"motion {self.id} already has a ballot", {})

    def ballot_secrecy(self, asked: str | None) -> str:
        return asked or "secret"

    def read_vote(self, vote: Mapping[str, Any]) -> Voted:
        if "choice" not in vote:
            raise InvalidInput("this ballot is on a motion: give `choice`", {"choice": ["required"]})
        return vote["choice"], None

    def declare(self, ballot: Ballot, box: Sequence[Mapping[str, Any]], participants: list[dict]) -> Declaration:
        """The tally, the majority rule and the quorum (congress_counting.motions), and motion.decided."""
        described = {**ballot.described(), "motion_id": self.id, "title": self.title}
        described["majority_rule"] = self.majority_rule
        result = decision_summary(tally(b["choice"] for b in box), described)
        record = motion_record(
            described, [{"receipt": b["receipt"], "choice": b["choice"]} for b in box], participants, result
        )
        decided = {
            "motion_id": self.id,
            "ballot_id": ballot.id,
            "title": self.title,
            "outcome": result["outcome"],
            "adopted": result["outcome"] == "adopted",
            "tally": result["tally"],
            "majority_rule": result["majority_rule"],
            "majority_met": result["majority_met"],
            "quorum": result["quorum"],
            "quorum_met": result["quorum_met"],
            "electorate": result["electorate"],
        }
        return Declaration(record, [("motion.decided", decided)])


@dataclass(frozen=True)
class Voter:
    """A member as one ballot sees them."""

    member_id: str
    deliberative: bool
    in_electorate: bool  # a voting member when the ballot opened
    revoked: bool = False


@dataclass(frozen=True)
class Declaration:
    record: dict[str, Any]  # unsigned: the service signs it
    events: list[Event]
    fills_body_id: str | None = None  # an election declared elected that fills a body
    elected: list[Any] = field(default_factory=list)  # its candidates, in order of election


@dataclass
class Ballot:
    id: str
    body_id: str
    kind: str
    subject_id: str
    secrecy: str
    status: str
    electorate: int
    quorum: int
    roll: tuple[str, ...] = ()  # the electorate's members: known when it opens, not loaded after
    events: list[Event] = field(default_factory=list)

    @classmethod
    def open(cls, ballot_id: str, body: Body, subject: Subject, asked_secrecy: str | None = None) -> Ballot:
        body.check_may_vote()
        subject.check_opening()
        secrecy = subject.ballot_secrecy(asked_secrecy)
        roll = body.voting_members()
        if not roll:
            raise Conflict(f"the body {body.name!r} has no accredited voting members", {})
        ballot = cls(
            id=ballot_id,
            body_id=body.id,
            kind=subject.kind,
            subject_id=subject.id,
            secrecy=secrecy,
            status=OPEN,
            electorate=len(roll),
            quorum=body.quorum or default_quorum(len(roll)),
            roll=tuple(roll),
        )
        subject.ballot_id = ballot_id
        ballot.events.append(
            (
                "ballot.opened",
                {
                    "ballot_id": ballot.id,
                    "body_id": ballot.body_id,
                    "kind": ballot.kind,
                    "subject_id": ballot.subject_id,
                    "secrecy": ballot.secrecy,
                    "electorate": ballot.electorate,
                    "quorum": ballot.quorum,
                },
            )
        )
        return ballot

    def cast(self, voter: Voter | None, subject: Subject, vote: Mapping[str, Any]) -> Voted:
        """What this voter's vote records; raises the error to show them if it may not be cast."""
        if self.status != OPEN:
            raise Conflict(f"ballot {self.id} is {self.status}, not open for votes", {"ballot": [self.status]})
        if voter is None:
            raise Forbidden(f"you are not a member of the body this ballot belongs to ({self.body_id})")
        if voter.revoked:
            raise Forbidden("your credential has been revoked")
        if not voter.deliberative:
            raise Forbidden("consultative members do not vote")
        if not voter.in_electorate:
            raise Forbidden("you were not a voting member of the body when this ballot opened")
        return subject.read_vote(vote)

    def close(self) -> bool:
        """Close it; False if it was closed already (closing twice is neither an error nor a second close)."""
        if self.status == CLOSED:
            return False
        if self.status != OPEN:
            raise Conflict(f"ballot {self.id} is {self.status}; only an open ballot can be closed", {})
        self.status = CLOSED
        return True

    def declare(self, subject: Subject, box: Sequence[Mapping[str, Any]], participants: list[dict]) -> Declaration:
        """Count the opened box (`box`: receipts with their choice or ranking) and say what was decided."""
        if self.status != CLOSED:
            raise Conflict(f"ballot {self.id} is {self.status}; it is declared when it closes", {})
        declaration = subject.declare(self, box, participants)
        closed = {
            "ballot_id": self.id,
            "body_id": self.body_id,
            "kind": self.kind,
            "votes_cast": len(box),
            "electorate": self.electorate,
            "digest": declaration.record["digest"],
        }
        return Declaration(
            declaration.record,
            [("ballot.closed", closed), *declaration.events],
            declaration.fills_body_id,
            declaration.elected,
        )

    def described(self) -> dict[str, Any]:
        """What every record says of its ballot."""
        return {
            "id": self.id,
            "kind": self.kind,
            "body_id": self.body_id,
            "secrecy": self.secrecy,
            "electorate": self.electorate,
            "quorum": self.quorum,
        }


def check_repeat(previous_request_id: str, request_id: str, previous_choice: object, choice: object) -> bool:
    """A voter who has voted already: True if this is a retry of that same submission."""
    # The earlier ballot must be found under this receipt: after a reissued credential it is not.
    if previous_request_id == request_id and previous_choice is not None and previous_choice == choice:
        return True
    raise Conflict("you have already voted in this ballot", {"choice": ["already voted"]})
