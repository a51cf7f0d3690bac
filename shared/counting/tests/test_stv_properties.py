"""Properties every STV count must have, by both methods, over generated elections."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from congress_counting.stv import METHODS, RankedBallot, count_stv

NAMES = "ABCDEFG"


@st.composite
def elections(draw: st.DrawFn) -> tuple[list[str], list[RankedBallot], int]:
    candidates = list(NAMES[: draw(st.integers(2, len(NAMES)))])
    rows = draw(
        st.lists(
            st.tuples(st.permutations(candidates), st.integers(0, len(candidates)), st.integers(1, 6)),
            min_size=1,
            max_size=15,
        )
    )
    seats = draw(st.integers(1, len(candidates)))
    return candidates, [RankedBallot(tuple(order[:length]), weight) for order, length, weight in rows], seats


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=120, deadline=None)
@given(election=elections())
def test_the_seats_are_all_filled_when_enough_candidates_stand(
    method: str, election: tuple[list[str], list[RankedBallot], int]
) -> None:
    candidates, rows, seats = election

    result = count_stv(candidates, rows, seats, method)

    assert len(result.elected) == seats
    assert len(set(result.elected)) == seats and set(result.elected) <= set(candidates)
    assert sum(len(r.elected) for r in result.rounds) == seats


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=120, deadline=None)
@given(election=elections())
def test_a_candidate_first_for_more_than_a_quota_of_voters_is_elected(
    method: str, election: tuple[list[str], list[RankedBallot], int]
) -> None:
    candidates, rows, seats = election
    valid = sum(b.weight for b in rows if b.ranking)
    droop = valid // (seats + 1) + 1  # WIGM's quota; more than Meek's first quota, valid / (seats + 1)
    first = {c: sum(b.weight for b in rows if b.ranking[:1] == (c,)) for c in candidates}

    result = count_stv(candidates, rows, seats, method)

    for candidate, votes in first.items():
        if votes >= droop:
            assert candidate in result.elected
            assert candidate in result.rounds[0].elected


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=120, deadline=None)
@given(election=elections(), shuffle=st.randoms(use_true_random=False))
def test_the_count_does_not_depend_on_the_order_or_grouping_of_the_ballots(
    method: str, election: tuple[list[str], list[RankedBallot], int], shuffle: random.Random
) -> None:
    candidates, rows, seats = election
    one_by_one = [RankedBallot(b.ranking) for b in rows for _ in range(b.weight)]
    shuffle.shuffle(one_by_one)

    assert count_stv(candidates, one_by_one, seats, method) == count_stv(candidates, rows, seats, method)
