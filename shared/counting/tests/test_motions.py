from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from congress_counting.motions import CountingError, Tally, decide, default_quorum, majority_met, tally


@pytest.mark.parametrize(
    ("yes", "no", "adopted"),
    [(51, 49, True), (50, 50, False), (0, 0, False), (1, 0, True), (0, 1, False)],
)
def test_simple_majority_is_more_yes_than_no_and_a_tie_fails(yes: int, no: int, adopted: bool) -> None:
    assert majority_met("simple", Tally(yes, no, 7), electorate=200) is adopted


@pytest.mark.parametrize(
    ("yes", "no", "adopted"),
    [(20, 10, True), (19, 10, False), (2, 1, True), (66, 34, False), (67, 33, True), (0, 0, False), (1, 0, True)],
)
def test_two_thirds_is_met_at_exactly_two_thirds_of_yes_and_no(yes: int, no: int, adopted: bool) -> None:
    assert majority_met("two_thirds", Tally(yes, no, 50), electorate=1000) is adopted


@pytest.mark.parametrize(("yes", "electorate", "adopted"), [(50, 100, False), (51, 100, True), (50, 99, True)])
def test_absolute_majority_needs_more_than_half_the_electorate(yes: int, electorate: int, adopted: bool) -> None:
    assert majority_met("absolute", Tally(yes, 0, 0), electorate) is adopted


def test_the_default_quorum_is_more_than_half_the_voting_members() -> None:
    assert [default_quorum(n) for n in (0, 1, 2, 3, 4, 100, 101)] == [1, 1, 2, 2, 3, 51, 51]


def test_without_quorum_nothing_is_adopted_whatever_the_votes() -> None:
    decision = decide(Tally(yes=50, no=0, abstain=0), "simple", electorate=101)

    assert not decision.quorum_met and decision.rule_met and not decision.adopted
    assert decision.outcome == "no_quorum"


def test_abstentions_count_towards_the_quorum_but_not_the_majority() -> None:
    decision = decide(Tally(yes=10, no=9, abstain=40), "simple", electorate=100)

    assert decision.quorum == 51 and decision.quorum_met
    assert decision.outcome == "adopted"


def test_a_body_may_set_its_own_quorum() -> None:
    assert decide(Tally(3, 1, 0), "simple", electorate=100, quorum=4).outcome == "adopted"
    assert decide(Tally(3, 0, 0), "simple", electorate=100, quorum=4).outcome == "no_quorum"


def test_unknown_rules_and_choices_are_refused() -> None:
    with pytest.raises(CountingError):
        decide(Tally(1, 0, 0), "unanimous", electorate=1)
    with pytest.raises(CountingError):
        tally(["yes", "maybe"])


@given(st.lists(st.sampled_from(["yes", "no", "abstain"]), max_size=300))
def test_the_tally_accounts_for_every_ballot_once(choices: list[str]) -> None:
    counted = tally(choices)

    assert counted.cast == len(choices)
    assert (counted.yes, counted.no, counted.abstain) == tuple(choices.count(c) for c in ("yes", "no", "abstain"))
    assert tally(reversed(choices)) == counted


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500), st.integers(1, 2000))
def test_more_yes_votes_never_turn_an_adopted_motion_into_a_rejected_one(
    yes: int, no: int, abstain: int, electorate: int
) -> None:
    for rule in ("simple", "two_thirds", "absolute"):
        if decide(Tally(yes, no, abstain), rule, electorate).adopted:
            assert decide(Tally(yes + 1, no, abstain), rule, electorate).adopted
