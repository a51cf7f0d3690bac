"""An election in memory: one candidacy per person, its ballot's options, its votes, and whether
it is declared or fails (quorum and valid votes), for every method."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from congress.errors import Conflict, InvalidInput, NotFound
from congress_counting.declaring import declare_election, with_names
from congress_counting.record import RecordError, digest, election_result, recount
from voting.domain.ballots import Ballot, Body, Seat
from voting.domain.elections import Candidate, Election

METHODS = ("meek", "wigm", "block")
# Real ids are UUIDs: long enough that a note's seed (hex) never contains one.
IDS = {name: f"{name.lower()}-0000-4000-8000-000000000000" for name in ("Ana", "Ben", "Cas")}


def election(method: str = "meek", seats: int = 2, fills: str | None = "iec", secrecy: str = "secret") -> Election:
    standing = [Candidate(cid, name, f"{name.lower()}@example.org", None) for name, cid in IDS.items()]
    return Election("e1", "congress", fills, "Elect the IEC", seats, method, secrecy, standing)


def electing_body(voters: int = 5, quorum: int | None = None) -> Body:
    return Body("congress", "congress", "Congress", quorum, [Seat(f"m{i}", True, True) for i in range(voters)])


# Candidates


def test_the_same_member_cannot_stand_twice() -> None:
    standing = election()
    standing.nominate(Candidate("c1", "Rosa", "rosa@example.org", "m1"))

    with pytest.raises(Conflict, match="Rosa already stands") as refused:
        standing.nominate(Candidate("c2", "Rosa L.", "other@example.org", "m1"))
    assert refused.value.fields == {"member_id": ["already a candidate in this election"]}


def test_the_same_email_in_any_case_is_the_same_person() -> None:
    standing = election()

    with pytest.raises(Conflict, match="Ana already stands") as refused:
        standing.nominate(Candidate("c9", "Anna", "ANA@Example.ORG", None))
    assert refused.value.fields == {"email": ["already a candidate in this election"]}
    assert len(standing.candidates) == 3


def test_a_withdrawn_candidate_may_stand_again_and_no_one_once_the_ballot_opens() -> None:
    standing = election()
    standing.withdraw(IDS["Ana"])
    standing.nominate(Candidate("c9", "Ana", "ana@example.org", None))
    assert set(standing.standing) == {IDS["Ben"], IDS["Cas"], "c9"}

    standing.ballot_id = "ba1"
    with pytest.raises(Conflict, match="no more candidates"):
        standing.nominate(Candidate("c10", "Dev", "dev@example.org", None))
    with pytest.raises(Conflict, match="can no longer withdraw"):
        standing.withdraw(IDS["Ben"])


def test_withdrawing_someone_who_does_not_stand_is_not_found() -> None:
    with pytest.raises(NotFound):
        election().withdraw("nobody")


# The ballot's options


def test_asking_an_election_ballot_for_another_secrecy_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="ballot is secret") as refused:
        Ballot.open("ba1", electing_body(), election(), "named")
    assert refused.value.fields == {"secrecy": ["the election fixes it: secret"]}


@pytest.mark.parametrize(("secrecy", "asked"), [("secret", None), ("secret", "secret"), ("named", "named")])
def test_an_election_ballot_has_the_elections_secrecy(secrecy: str, asked: str | None) -> None:
    assert Ballot.open("ba1", electing_body(), election(secrecy=secrecy), asked).secrecy == secrecy


def test_an_election_with_no_one_standing_does_not_open() -> None:
    empty = Election("e1", "congress", None, "IS", 1, "meek", "secret", [])
    with pytest.raises(Conflict, match="no candidate stands"):
        Ballot.open("ba1", electing_body(), empty)


# Votes


@pytest.mark.parametrize(
    ("method", "vote", "field"),
    [
        ("block", {"marks": [IDS["Ana"], IDS["Ben"], IDS["Cas"]]}, "marks"),  # three marks for two seats
        ("block", {"ranking": [IDS["Ana"]]}, "marks"),
        ("meek", {"marks": [IDS["Ana"]]}, "ranking"),
        ("wigm", {"ranking": [IDS["Ana"], IDS["Ana"]]}, "ranking"),
        ("meek", {"ranking": ["nobody"]}, "ranking"),
    ],
)
def test_a_vote_its_election_cannot_read_is_refused(method: str, vote: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        election(method).read_vote(vote)
    assert field in refused.value.fields


def test_a_withdrawn_candidate_cannot_be_ranked() -> None:
    standing = election()
    standing.withdraw(IDS["Cas"])
    with pytest.raises(InvalidInput):
        standing.read_vote({"ranking": [IDS["Cas"]]})
    assert standing.read_vote({"ranking": [IDS["Ben"], IDS["Ana"]]}) == (None, [IDS["Ben"], IDS["Ana"]])


# Declared or failed: 5 voters, quorum 3


def ballots_for(method: str, n: int) -> list[dict[str, Any]]:
    rankings = [[IDS["Ana"], IDS["Ben"]], [IDS["Ben"]], [IDS["Ana"], IDS["Cas"]], [IDS["Cas"], IDS["Ana"]]]
    return [{"receipt": f"r{i}", "ranking": rankings[i % len(rankings)]} for i in range(n)]


def declared(method: str, votes: int) -> Any:
    ballot = Ballot.open("ba1", electing_body(), election(method))
    ballot.close()
    return ballot.declare(election(method), ballots_for(method, votes), [{"member_id": f"m{i}"} for i in range(votes)])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("votes", [0, 2])
def test_an_election_that_misses_its_quorum_fails_elects_no_one_and_fills_nothing(method: str, votes: int) -> None:
    declaration = declared(method, votes)
    result = declaration.record["result"]

    assert result["outcome"] == "failed" and result["elected"] == [] and result["elected_names"] == []
    assert (result["quorum"], result["quorum_met"], result["votes_cast"]) == (3, False, votes)
    assert result["reason"] == f"Quorum not met: {votes} of 5 voted, 3 needed. No one is elected."
    assert declaration.fills_body_id is None and declaration.elected == []
    (only,) = result["rounds"]  # the ballots as cast, and why the count stops there
    assert only["elected"] == [] and only["note"] == result["reason"]
    assert only["names"] == {cid: name for name, cid in IDS.items()}
    ((_, event),) = [e for e in declaration.events if e[0] == "election.result_declared"]
    assert (event["outcome"], event["elected"], event["quorum_met"], event["reason"]) == (
        "failed",
        [],
        False,
        result["reason"],
    )
    assert recount(declaration.record) == result


@pytest.mark.parametrize("method", METHODS)
def test_an_election_with_exactly_its_quorum_is_declared_and_fills_its_body(method: str) -> None:
    declaration = declared(method, 3)
    result = declaration.record["result"]

    assert result["outcome"] == "elected" and result["reason"] is None and result["quorum_met"] is True
    assert len(result["elected"]) == 2
    assert declaration.fills_body_id == "iec"
    assert [c.id for c in declaration.elected] == result["elected"]
    assert result["elected_names"] == [c.name for c in declaration.elected]
    ((_, event),) = [e for e in declaration.events if e[0] == "election.result_declared"]
    assert [e["candidate_id"] for e in event["elected"]] == result["elected"]
    assert event["rounds"] == result["rounds"] and event["votes_cast"] == 3
    assert recount(declaration.record) == result


def test_a_declared_election_that_fills_no_body_fills_none() -> None:
    ballot = Ballot.open("ba1", electing_body(), election(fills=None))
    ballot.close()
    declaration = ballot.declare(
        election(fills=None), ballots_for("meek", 3), [{"member_id": f"m{i}"} for i in range(3)]
    )

    assert declaration.record["result"]["outcome"] == "elected" and declaration.fills_body_id is None


DESCRIBED = {
    "method": "meek",
    "seats": 1,
    "quorum": 2,
    "electorate": 5,
    "seed": "ba1",
    "candidates": {cid: name for name, cid in IDS.items()},
}


@pytest.mark.parametrize("method", METHODS)
def test_blank_ballots_count_for_the_quorum_but_elect_no_one(method: str) -> None:
    result = declare_election({**DESCRIBED, "method": method}, [[], [], []])

    assert result["outcome"] == "failed" and result["quorum_met"] is True
    assert (result["votes_cast"], result["valid_votes"]) == (3, 0)
    assert result["reason"].startswith("No valid votes")


def test_rounds_and_notes_name_the_candidates_beside_their_ids() -> None:
    # Ana and Ben level at every round: the lot decides, and the note says who by name.
    result = declare_election(DESCRIBED, [[IDS["Ana"]], [IDS["Ben"]], [IDS["Cas"], IDS["Ana"]]])

    notes = " ".join(r["note"] for r in result["rounds"])
    assert "Cas (cas-0000)" in notes and IDS["Cas"] not in notes
    assert all(r["names"] == {c: DESCRIBED["candidates"][c] for c in r["votes"]} for r in result["rounds"])


def test_names_replace_whole_ids_only() -> None:
    names = {"c1": "Ana"}
    assert with_names("c1 is elected; c10 and xc1 and seed 3c1f are not", names) == (
        "Ana (c1) is elected; c10 and xc1 and seed 3c1f are not"
    )


def test_a_record_of_version_1_recounts_as_it_was_counted_then() -> None:
    ballot = {**DESCRIBED, "id": "ba1", "kind": "election", "secrecy": "secret"}
    rankings: list[list[str]] = []  # no votes at all: version 1 elected by lot; it stays so
    old = {
        "record_version": 1,
        "ballot": ballot,
        "ballots": [],
        "participants": [],
        "result": election_result(ballot, rankings, version=1),
    }
    old["digest"] = digest(old)

    assert recount(old) == old["result"] and len(old["result"]["elected"]) == 1
    forged = copy.deepcopy(old)
    forged["record_version"] = 2  # read under today's rule, the same record fails, and so differs
    forged["digest"] = digest(forged)
    with pytest.raises(RecordError, match="recount differs"):
        recount(forged)
