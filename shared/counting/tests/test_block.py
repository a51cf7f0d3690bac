from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from congress_counting.block import count_block
from congress_counting.stv import CountError

CANDIDATES = ["ana", "ben", "cas", "dev"]


def test_the_candidates_with_the_most_marks_are_elected_in_order() -> None:
    result = count_block(CANDIDATES, [["ana", "ben"], ["ana", "cas"], ["ana", "ben"], ["dev"]], 2, seed="s")

    assert result.elected == ("ana", "ben")
    assert result.rounds[0].votes == {"ana": "3", "ben": "2", "cas": "1", "dev": "1"}
    assert "lot" not in result.rounds[0].note


def test_a_tie_at_the_last_seat_is_settled_by_a_recorded_lot_and_reported() -> None:
    ballots = [["ana", "ben"], ["ana", "cas"]]

    first = count_block(CANDIDATES, ballots, 2, seed="one")
    again = count_block(CANDIDATES, ballots, 2, seed="one")

    assert first == again and first.seed == "one"
    assert first.elected[0] == "ana" and first.elected[1] in {"ben", "cas"}
    assert "settled by lot (seed one)" in first.rounds[0].note


@pytest.mark.parametrize(
    ("ballot", "message"),
    [(["ana", "ana"], "twice"), (["ana", "ben", "cas"], "at most 2"), (["zed"], "not a candidate")],
)
def test_invalid_ballots_are_refused(ballot: list[str], message: str) -> None:
    with pytest.raises(CountError, match=message):
        count_block(CANDIDATES, [ballot], 2, seed="s")


@given(st.lists(st.lists(st.sampled_from(CANDIDATES), max_size=2, unique=True), max_size=60), st.integers(1, 4))
def test_as_many_are_elected_as_there_are_seats_whatever_the_order_of_ballots(
    ballots: list[list[str]], seats: int
) -> None:
    ballots = [b[:seats] for b in ballots]
    result = count_block(CANDIDATES, ballots, seats, seed="s")

    assert len(result.elected) == seats
    assert count_block(CANDIDATES, list(reversed(ballots)), seats, seed="s").elected == result.elected
