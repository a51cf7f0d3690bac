"""What both STV methods share: refusing what cannot be counted, withdrawals, too few
candidates, ties in the order of election, the recorded seed and the JSON shape."""

from __future__ import annotations

import pytest

from congress_counting.stv import METHODS, CountError, RankedBallot, count_stv, result_json


def ballots(*rows: tuple[int, str]) -> list[RankedBallot]:
    return [RankedBallot(tuple(ranking.split()), weight) for weight, ranking in rows]


FOOD_NAMES = ["orange", "chocolate", "pear", "strawberry", "bonbon"]
FOOD = ballots(
    (4, "orange"),
    (2, "pear orange"),
    (8, "chocolate strawberry"),
    (4, "chocolate bonbon"),
    (1, "strawberry"),
    (1, "bonbon"),
)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([RankedBallot(("A", "Z"))], "ballot 1: 'Z' is not a candidate"),
        ([RankedBallot(("A",)), RankedBallot(("B", "A", "B"))], "ballot 2: 'B' is ranked twice"),
        ([RankedBallot(("A",), 0)], "ballot 1: the weight must be a whole number of at least 1, not 0"),
        ([RankedBallot(("A",), -2)], "ballot 1: the weight must be a whole number of at least 1"),
    ],
)
def test_invalid_ballots_are_refused_naming_the_ballot(method: str, rows: list[RankedBallot], message: str) -> None:
    with pytest.raises(CountError, match=message):
        count_stv("ABC", rows, 1, method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("candidates", "seats", "withdrawn", "message"),
    [
        ("ABC", 0, (), "seats must be a whole number of at least 1"),
        ("ABC", -1, (), "seats must be a whole number of at least 1"),
        ([], 1, (), "there are no candidates"),
        (["A", "B", "A"], 1, (), "candidate 'A' is listed twice"),
        (["A", ""], 1, (), "a candidate's name must be a non-empty string"),
        ("ABC", 1, ("Z",), "withdrawn candidate 'Z' is not a candidate"),
        ("AB", 1, ("A", "B"), "every candidate has withdrawn"),
    ],
)
def test_impossible_parameters_are_refused(
    method: str, candidates: list[str], seats: int, withdrawn: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CountError, match=message):
        count_stv(candidates, [RankedBallot(("A",))], seats, method, withdrawn=withdrawn)


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(CountError, match="unknown method 'cpo'; choose one of meek, wigm"):
        count_stv("AB", [RankedBallot(("A",))], 1, "cpo")


@pytest.mark.parametrize("method", METHODS)
def test_a_withdrawn_candidate_is_removed_from_every_ranking_before_counting(method: str) -> None:
    # Pear withdraws: the two "pear, orange" ballots count for orange from the first round.
    result = count_stv(FOOD_NAMES, FOOD, 3, method, withdrawn=["pear"])

    first = result.rounds[0]
    assert "pear" not in first.votes
    assert first.votes["orange"].startswith("6.")
    assert "Withdrawn, and removed from every ranking: pear." in first.note
    assert set(result.elected) == {"chocolate", "orange", "strawberry"}
    without_pear = count_stv(
        ["orange", "chocolate", "strawberry", "bonbon"],
        ballots((6, "orange"), (8, "chocolate strawberry"), (4, "chocolate bonbon"), (1, "strawberry"), (1, "bonbon")),
        3,
        method,
    )
    assert result.elected == without_pear.elected
    assert [r.votes for r in result.rounds] == [r.votes for r in without_pear.rounds]


@pytest.mark.parametrize("method", METHODS)
def test_ballots_naming_only_withdrawn_candidates_are_set_aside_not_counted(method: str) -> None:
    result = count_stv("ABC", ballots((3, "A"), (2, "B"), (4, "C")), 1, method, withdrawn=["C"])

    assert "4 ballots naming no standing candidate set aside" in result.rounds[0].note
    assert "5 valid votes" in result.rounds[0].note
    assert result.elected == ("A",)


@pytest.mark.parametrize("method", METHODS)
def test_fewer_candidates_than_seats_elects_them_all_and_says_so(method: str) -> None:
    result = count_stv("AB", ballots((5, "A B"), (2, "B")), 3, method)

    assert set(result.elected) == {"A", "B"}
    assert len(result.rounds) == 1
    assert "Fewer candidates than seats: 1 seat left unfilled." in result.rounds[0].note


@pytest.mark.parametrize("method", METHODS)
def test_as_many_candidates_as_seats_are_all_elected_in_the_first_round(method: str) -> None:
    result = count_stv("ABC", ballots((5, "A"), (1, "B")), 3, method)

    assert result.elected == ("A", "B", "C")  # A on the quota, then B and C because they just fill the seats
    assert len(result.rounds) == 1
    assert "2 continuing candidates for 2 seats left: B, C elected." in result.rounds[0].note


@pytest.mark.parametrize("method", METHODS)
def test_candidates_elected_together_are_ordered_by_votes_and_a_tie_there_is_reported(method: str) -> None:
    result = count_stv("ABC", ballots((4, "A"), (4, "B"), (1, "C")), 2, method, seed="order")

    first = result.rounds[0]
    assert set(first.elected) == {"A", "B"}
    assert "for the order of election broken by lot (seed order)" in first.note


@pytest.mark.parametrize("method", METHODS)
def test_blank_ballots_are_not_valid_votes(method: str) -> None:
    result = count_stv("AB", [RankedBallot(()), *ballots((3, "A"), (1, "B"))], 1, method)

    assert "4 valid votes" in result.rounds[0].note
    assert "1 ballot naming no standing candidate set aside" in result.rounds[0].note


@pytest.mark.parametrize("method", METHODS)
def test_the_default_seed_depends_on_the_ballots_not_on_their_order(method: str) -> None:
    forward = count_stv(FOOD_NAMES, FOOD, 3, method)
    backward = count_stv(FOOD_NAMES, list(reversed(FOOD)), 3, method)
    split = count_stv(FOOD_NAMES, [RankedBallot(b.ranking) for b in FOOD for _ in range(b.weight)], 3, method)

    assert forward.seed == backward.seed == split.seed
    assert forward == backward == split
    assert count_stv(FOOD_NAMES, FOOD[1:], 3, method).seed != forward.seed


@pytest.mark.parametrize("method", METHODS)
def test_result_json_has_the_spec_shape_in_plain_json_values(method: str) -> None:
    result = count_stv(FOOD_NAMES, FOOD, 3, method)

    printed = result_json(result)
    assert set(printed) == {"method", "seats", "quota", "elected", "rounds"}
    assert printed["method"] == method and printed["seats"] == 3
    assert printed["elected"] == list(result.elected)
    assert printed["quota"] == result.quota
    for shown, kept in zip(printed["rounds"], result.rounds, strict=True):
        assert set(shown) == {"number", "votes", "exhausted", "elected", "excluded", "quota", "note"}
        assert shown["elected"] == list(kept.elected) and shown["excluded"] == list(kept.excluded)
        assert shown["votes"] == kept.votes and isinstance(shown["votes"]["orange"], str)


@pytest.mark.parametrize("method", METHODS)
def test_every_round_accounts_for_every_valid_vote(method: str) -> None:
    result = count_stv(FOOD_NAMES, FOOD, 3, method)

    places = 5 if method == "wigm" else 9
    for r in result.rounds:
        held = sum(int(v.replace(".", "")) for v in r.votes.values()) + int(r.exhausted.replace(".", ""))
        assert held == 20 * 10**places
