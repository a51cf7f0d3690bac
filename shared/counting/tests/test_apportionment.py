"""Apportionment methods against hand-worked cases, published results and properties."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from congress_counting.apportionment import DIVISOR_METHODS, METHODS, ApportionmentError, apportion

REFERENCE = Path(__file__).parents[3] / "tests" / "data" / "apportionment"


# Hand-worked: members A=5000, B=3000, C=1500, D=500, no minimum.
#  D'Hondt, 10 seats (m/1, m/2, …): 5000 3000 2500 1666.7 1500(B) 1500(C) 1250 1000(A) 1000(B) 833.3(A)
#    → A 6, B 3, C 1, D 0.
#  Sainte-Laguë, 10 seats (m/0.5, m/1.5, …): 10000 6000 3333.3 3000 2000(A) 2000(B) 1428.6 1200 1111.1,
#    then C's 1500/1.5 = 1000 and D's 500/0.5 = 1000 share the tenth seat: a tie.
#  Hamilton, 10 seats: quota 1000 → A 5, B 3, C 1 (rem .5), D 0 (rem .5): C and D tie for the last seat.
HAND = {"A": 5000, "B": 3000, "C": 1500, "D": 500}


def test_dhondt_hand_worked() -> None:
    result = apportion(HAND, 10, "dhondt", minimum=0)

    assert result.seats_of() == {"A": 6, "B": 3, "C": 1, "D": 0}
    assert result.ties == ()
    assert dict((a.section, a.priority) for a in result.allocations)["A"] == Fraction(5000, 6)


def test_sainte_lague_hand_worked_with_a_tie_settled_by_lot_and_reported() -> None:
    result = apportion(HAND, 10, "sainte-lague", minimum=0)
    seats = result.seats_of()

    assert seats["A"] == 5 and seats["B"] == 3
    assert seats["C"] + seats["D"] == 2  # C's second (500) and D's first (500) share the tenth seat
    (tie,) = result.ties
    assert tie.value == Fraction(1000)
    assert set(tie.sections) == {"C", "D"} and tie.seats == 1 and len(tie.winners) == 1
    assert tie.resolved_by == "lot"
    assert apportion(HAND, 10, "sainte-lague", minimum=0) == result  # a recount settles it the same way
    assert apportion(HAND, 11, "sainte-lague", minimum=0).ties == ()  # both fit: no tie to report
    other = apportion(HAND, 10, "sainte-lague", minimum=0, seed="another")
    assert other.seed == "another" and set(other.ties[0].sections) == {"C", "D"}


def test_hamilton_hand_worked_with_a_remainder_tie() -> None:
    result = apportion(HAND, 10, "hamilton", minimum=0)

    assert result.seats_of()["A"] == 5 and result.seats_of()["B"] == 3
    assert result.seats_of()["C"] + result.seats_of()["D"] == 2
    (tie,) = result.ties
    assert tie.value == Fraction(1, 2) and set(tie.sections) == {"C", "D"} and tie.seats == 1


def test_huntington_hill_gives_everyone_the_minimum_then_follows_priorities() -> None:
    result = apportion(HAND, 10, "huntington-hill", minimum=1)

    # After 1 each (4 seats), six more by m/√(s(s+1)): A 3535.5, B 2121.3, A 2041.2, A 1443.4,
    # B 1224.7, A 1118.0 → A 5, B 3, C 1, D 1.
    assert result.seats_of() == {"A": 5, "B": 3, "C": 1, "D": 1}
    assert result.allocations[0].priority_text("huntington-hill") == "1118.033989"


@pytest.mark.parametrize("method", METHODS)
def test_a_section_with_no_members_gets_exactly_the_minimum(method: str) -> None:
    result = apportion({"big": 900, "small": 100, "empty": 0}, 10, method, minimum=2)

    assert result.seats_of()["empty"] == 2
    assert sum(result.seats_of().values()) == 10


@pytest.mark.parametrize("method", METHODS)
def test_more_minimum_seats_than_seats_is_a_clear_error(method: str) -> None:
    with pytest.raises(ApportionmentError, match="need 6 seats, more than the 5"):
        apportion({"a": 1, "b": 2, "c": 3}, 5, method, minimum=2)


@pytest.mark.parametrize(
    ("members", "message"),
    [({}, "no sections"), ({"a": -1}, "whole number"), ({"a": 1.5}, "whole number")],
)
def test_impossible_figures_are_refused(members: dict, message: str) -> None:
    with pytest.raises(ApportionmentError, match=message):
        apportion(members, 3, "dhondt", minimum=0)


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ApportionmentError, match="unknown method"):
        apportion({"a": 1}, 1, "jefferson")


def passing(votes: dict[str, int], share: str, base: int) -> dict[str, int]:
    return {party: n for party, n in votes.items() if Fraction(n, base) >= Fraction(share)}


def test_dhondt_reproduces_the_czech_european_parliament_election_2019() -> None:
    case = json.loads((REFERENCE / "dhondt_cz_european_parliament_2019.json").read_text())
    lists = passing(case["votes"], case["threshold"]["value"], case["total_valid_votes_sum_of_lists"])

    seats = apportion(lists, case["seats"], "dhondt", minimum=0).seats_of()

    assert {p: n for p, n in seats.items() if n} == case["expected_seats"]


def test_sainte_lague_reproduces_the_bundestag_2009_upper_apportionment_and_spd_land_lists() -> None:
    case = json.loads((REFERENCE / "sainte_lague_germany_bundestag_2009.json").read_text())

    assert (
        apportion(case["second_votes"], case["seats"], "sainte-lague", minimum=0).seats_of()
        == case["expected_oberverteilung"]
    )
    land = case["sub_apportionment_spd_by_land"]
    by_land = apportion({f"{i:02}": v for i, v in enumerate(land["votes"])}, land["seats"], "sainte-lague", minimum=0)
    assert [by_land.seats_of()[f"{i:02}"] for i in range(len(land["votes"]))] == land["expected_seats"]


def test_hamilton_reproduces_the_russian_duma_list_seats_2016() -> None:
    case = json.loads((REFERENCE / "largest_remainder_hare_russia_duma_2016.json").read_text())

    seats = apportion(case["votes_of_qualifying_parties"], case["seats"], "hamilton", minimum=0).seats_of()

    assert seats == case["expected_seats"]


sections = st.dictionaries(
    st.text("abcdefghij", min_size=1, max_size=4), st.integers(min_value=0, max_value=100_000), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(members=sections, extra=st.integers(0, 60), minimum=st.integers(0, 3), method=st.sampled_from(METHODS))
def test_seats_always_sum_to_the_total_and_everyone_has_the_minimum(
    members: dict[str, int], extra: int, minimum: int, method: str
) -> None:
    seats = minimum * len(members) + extra

    result = apportion(members, seats, method, minimum=minimum)

    assert sum(result.seats_of().values()) == seats
    assert all(n >= minimum for n in result.seats_of().values())


@settings(max_examples=150, deadline=None)
@given(members=sections, extra=st.integers(0, 40), minimum=st.integers(0, 2), method=st.sampled_from(DIVISOR_METHODS))
def test_no_section_loses_a_seat_when_the_house_grows(
    members: dict[str, int], extra: int, minimum: int, method: str
) -> None:
    seats = minimum * len(members) + extra

    smaller = apportion(members, seats, method, minimum=minimum).seats_of()
    larger = apportion(members, seats + 1, method, minimum=minimum).seats_of()

    assert all(larger[code] >= smaller[code] for code in members)


@settings(max_examples=100, deadline=None)
@given(members=sections, extra=st.integers(0, 40), method=st.sampled_from(METHODS))
def test_more_members_never_means_fewer_seats_except_by_a_reported_tie(
    members: dict[str, int], extra: int, method: str
) -> None:
    result = apportion(members, len(members) + extra, method, minimum=1)
    seats = result.seats_of()
    tied = {s for tie in result.ties for s in tie.sections}

    for a in members:
        for b in members:
            if members[a] > members[b] and a not in tied and b not in tied:
                assert seats[a] >= seats[b]
