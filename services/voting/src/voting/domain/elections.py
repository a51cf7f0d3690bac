"""An election: its candidates, its ballot's options and votes, and its declaration. No framework,
no database.

The Congress elects the IEC, the IEC elects the IS: an election is a ballot of its electing body,
and when declared it may fill another body. Each person stands once (the same member, or the same
email whatever its case, is the same person); candidates may join or withdraw until the ballot
opens. The election fixes its ballot's options: asking its ballot for other ones is refused,
never silently changed. Whether it is declared or fails is the rule in congress_counting.declaring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from congress.errors import Conflict, InvalidInput, NotFound
from congress_counting.declaring import ELECTED
from congress_counting.record import election_record
from voting.domain.ballots import Ballot, Declaration, Voted


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    email: str
    member_id: str | None = None  # None: not yet a member of any body (a member is made if elected)
    withdrawn: bool = False


@dataclass
class Election:
    kind: ClassVar[str] = "election"
    id: str
    body_id: str  # the electing body
    fills_body_id: str | None  # the body whose members it elects, if any
    title: str
    seats: int
    method: str  # "block", "meek" or "wigm"
    secrecy: str
    candidates: list[Candidate] = field(default_factory=list)  # withdrawn ones too
    ballot_id: str | None = None

    @property
    def standing(self) -> dict[str, Candidate]:
        return {c.id: c for c in self.candidates if not c.withdrawn}

    def nominate(self, candidate: Candidate) -> None:
        if self.ballot_id is not None:
            raise Conflict("the ballot has opened: no more candidates", {})
        for other in self.standing.values():
            if candidate.member_id is not None and other.member_id == candidate.member_id:
                raise Conflict(
                    f"{other.name} already stands in this election (member {candidate.member_id})",
                    {"member_id": ["already a candidate in this election"]},
                )
            if other.email.casefold() == candidate.email.casefold():
                raise Conflict(
                    f"{other.name} already stands in this election with the email {other.email}",
                    {"email": ["already a candidate in this election"]},
                )
        self.candidates.append(candidate)

    def withdraw(self, candidate_id: str) -> Candidate:
        if self.ballot_id is not None:
            raise Conflict("the ballot has opened: candidates can no longer withdraw", {})
        candidate = self.standing.get(candidate_id)
        if candidate is None:
            raise NotFound(f"election {self.id} has no standing candidate {candidate_id!r}")
        withdrawn = Candidate(candidate.id, candidate.name, candidate.email, candidate.member_id, withdrawn=True)
        self.candidates = [withdrawn if c.id == candidate_id else c for c in self.candidates]
        return withdrawn

    # As the subject of its ballot

    def check_opening(self) -> None:
        if self.ballot_id is not None:
            raise Conflict(f"election {self.id} already has a ballot", {})
        if not self.standing:
            raise Conflict("no candidate stands in this election", {})

    def ballot_secrecy(self, asked: str | None) -> str:
        """The election's own secrecy; asking for another is refused, never silently overridden."""
        if asked is not None and asked != self.secrecy:
            raise InvalidInput(
                f"this election's ballot is {self.secrecy}, as the election was created; it cannot be {asked}",
                {"secrecy": [f"the election fixes it: {self.secrecy}"]},
            )
        return self.secrecy

    def read_vote(self, vote: Mapping[str, Any]) -> Voted:
        """A ranked ballot names each candidate at most once, and only standing candidates of this
        election; a block ballot marks at most as many as there are seats."""
        if self.method == "block":
            chosen, field_ = vote.get("marks"), "marks"
            if chosen is None:
                raise InvalidInput("this is a block vote: give `marks`", {"marks": ["required"]})
            if len(chosen) > self.seats:
                raise InvalidInput(f"mark at most {self.seats} candidates", {"marks": [f"at most {self.seats}"]})
        else:
            chosen, field_ = vote.get("ranking"), "ranking"
            if chosen is None:
                raise InvalidInput("this is an STV election: give `ranking`", {"ranking": ["required"]})
        if len(set(chosen)) != len(chosen):
            raise InvalidInput("a candidate appears twice", {field_: ["a candidate appears twice"]})
        unknown = [c for c in chosen if c not in self.standing]
        if unknown:
            raise InvalidInput("not a candidate in this election", {field_: [f"unknown: {', '.join(unknown)}"]})
        return None, list(chosen)

    def declare(self, ballot: Ballot, box: Sequence[Mapping[str, Any]], participants: list[dict]) -> Declaration:
        """Count, declare or fail, and say so; only a declared election fills its body."""
        standing = self.standing
        described = {
            **ballot.described(),
            "election_id": self.id,
            "title": self.title,
            "method": self.method,
            "seats": self.seats,
            "seed": ballot.id,  # the lot's seed: anyone recounting draws the same lot
            "candidates": {cid: c.name for cid, c in sorted(standing.items())},
        }
        record = election_record(
            described, [{"receipt": b["receipt"], "ranking": b["ranking"]} for b in box], participants
        )
        result = record["result"]
        elected = [standing[cid] for cid in result["elected"]]
        declared = {
            "election_id": self.id,
            "ballot_id": ballot.id,
            "body_id": ballot.body_id,
            "fills_body_id": self.fills_body_id,
            "title": self.title,
            "method": self.method,
            "seats": self.seats,
            "quota": result["quota"],
            "elected": [{"candidate_id": c.id, "name": c.name, "member_id": c.member_id} for c in elected],
            "rounds": result["rounds"],
            "digest": record["digest"],
            "outcome": result["outcome"],
            "quorum": result["quorum"],
            "quorum_met": result["quorum_met"],
            "votes_cast": result["votes_cast"],
            "valid_votes": result["valid_votes"],
            "reason": result["reason"],
        }
        fills = self.fills_body_id if result["outcome"] == ELECTED else None
        return Declaration(record, [("election.result_declared", declared)], fills, elected)
