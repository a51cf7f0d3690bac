"""Meek's method against hand-worked counts, and against a plain ballot-by-ballot count."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from congress_counting.stv import RankedBallot, choose, count_stv, fixed, order_by_votes


def ballots(*rows: tuple[int, str]) -> list[RankedBallot]:
    return [RankedBallot(tuple(ranking.split()), weight) for weight, ranking in rows]


# The Wikipedia food example (3 seats, 20 votes), worked by hand at 9 decimal places:
#  Round 1: quota 20/4 + 0.000000001 = 5.000000001; chocolate 12 is elected.
#  Round 2, iteration 1: chocolate keeps everything (keep value 1): 12 votes.
#    New keep value: 1 x 5.000000001 / 12 = 0.41666666675, rounded up: 0.416666667.
#  Iteration 2: each chocolate ballot keeps 0.416666667 and passes on 0.583333333 (truncated):
#    chocolate 12 x 0.416666667 = 5.000000004, strawberry 1 + 8 x 0.583333333 = 5.666666664,
#    bonbon 1 + 4 x 0.583333333 = 3.333333332. Chocolate is within 0.00001 of the quota:
#    converged, and strawberry, over the quota, is elected.
FOOD = ballots((4, "orange"), (2, "pear orange"), (8, "chocolate strawberry"), (4, "chocolate bonbon"))
FOOD += ballots((1, "strawberry"), (1, "bonbon"))
FOOD_NAMES = ["orange", "chocolate", "pear", "strawberry", "bonbon"]


def test_a_surplus_passes_on_through_the_keep_value_rounded_up_at_nine_places() -> None:
    result = count_stv(FOOD_NAMES, FOOD, 3, "meek")

    first, second = result.rounds[:2]
    assert first.quota == "5.000000001" and first.elected == ("chocolate",)
    assert second.votes["chocolate"] == "5.000000004"
    assert second.votes["strawberry"] == "5.666666664"
    assert second.votes["bonbon"] == "3.333333332"
    assert second.elected == ("strawberry",)
    assert second.note.startswith("2 iterations of the keep values")


def test_the_quota_falls_as_votes_become_non_transferable() -> None:
    # Round 3: strawberry's surplus has nowhere to go (their ballots end there): it is
    # non-transferable, and the quota is (20 - that) / 4, truncated, + 0.000000001.
    third = count_stv(FOOD_NAMES, FOOD, 3, "meek").rounds[2]

    exhausted = int(third.exhausted.replace(".", ""))
    assert exhausted > 0
    assert third.quota == fixed((20 * 10**9 - exhausted) // 4 + 1, 9)
    assert third.quota == "4.714305953"


def test_the_lowest_is_excluded_and_their_votes_go_on_whole() -> None:
    result = count_stv(FOOD_NAMES, FOOD, 3, "meek")

    third, fourth = result.rounds[2:]
    assert third.excluded == ("pear",) and "pear excluded (lowest, 2.000000000)" in third.note
    assert fourth.votes["pear"] == "0.000000000"
    assert fourth.votes["orange"] == "6.000000000" and fourth.elected == ("orange",)
    assert result.elected == ("chocolate", "strawberry", "orange")


def test_a_tie_for_exclusion_is_broken_by_the_earlier_rounds() -> None:
    # 1 seat. Round 1: B 5, C 3, D 4, E 2: E excluded. Round 2: C 4 = D 4; at round 1 C had 3
    # and D 4, so C goes, and C's votes elect D (13 continuing votes, quota 6.500000001).
    result = count_stv("BCDE", ballots((5, "B"), (3, "C D"), (4, "D"), (1, "E C D"), (1, "E")), 1, "meek")

    second = result.rounds[1]
    assert second.votes["C"] == second.votes["D"] == "4.000000000"
    assert second.excluded == ("C",)
    assert "C had the fewest votes at round 1" in second.note
    assert result.elected == ("D",) and result.quota == "6.500000001"


TIED = ballots((3, "B"), (2, "C D"), (2, "D C"))  # 1 seat: C and D level at 2 from the start


def test_a_tie_level_at_every_round_is_broken_by_lot_and_a_recount_repeats_it() -> None:
    result = count_stv("BCD", TIED, 1, "meek", seed="hall-7")

    (excluded,) = result.rounds[0].excluded
    assert "by lot (seed hall-7)" in result.rounds[0].note
    assert result.elected == ({"C": "D", "D": "C"}[excluded],)
    assert count_stv("BCD", TIED, 1, "meek", seed="hall-7") == result
    assert {count_stv("BCD", TIED, 1, "meek", seed=f"seed-{i}").elected for i in range(20)} == {("C",), ("D",)}


def test_one_round_per_stage_with_the_iterations_in_the_note() -> None:
    result = count_stv("ABCDE", ballots((9, "A B C"), (3, "B"), (4, "C D"), (3, "D"), (2, "E A")), 2, "meek")

    assert [r.number for r in result.rounds] == list(range(1, len(result.rounds) + 1))
    for later in result.rounds[1:]:
        assert "iteration" in later.note


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# The same rules, walked ballot by ballot with no grouping and no tree: the count must agree
# with it figure for figure.
def ballot_by_ballot(names: str, rows: list[RankedBallot], seats: int) -> list[tuple[dict[str, str], str, str]]:
    unit = 10**9
    n = len(names)
    papers = [([names.index(c) for c in b.ranking], b.weight) for b in rows if b.ranking]
    total = sum(w for _, w in papers) * unit
    status = ["hopeful"] * n
    keep = [unit] * n
    elected: list[int] = []
    history: list[tuple[int, list[int]]] = []
    rounds = []
    while True:
        last = None
        while True:
            votes = [0] * n
            exhausted = 0
            for ranking, weight in papers:
                value = unit
                for c in ranking:
                    share = ceil_div(value * keep[c], unit)
                    votes[c] += share * weight
                    value -= share
                exhausted += value * weight
            quota = (total - exhausted) // (seats + 1) + 1
            if not elected or all(abs(votes[e] - quota) * 100_000 <= quota for e in elected):
                break
            surplus = sum(votes[e] - quota for e in elected)
            if last is not None and surplus >= last:
                break
            last = surplus
            for e in elected:
                scaled = ceil_div(keep[e] * quota, unit)
                keep[e] = min(unit, ceil_div(scaled * unit, votes[e]))
        hopeful = [c for c in range(n) if status[c] == "hopeful"]
        reached = [c for c in hopeful if votes[c] >= quota]
        if reached:
            for c in order_by_votes(reached, votes, history, names, "s", 9)[0]:
                status[c] = "elected"
                elected.append(c)
        elif len(hopeful) > seats - len(elected):
            c = choose(hopeful, votes, history, names, "s", lowest=True, show=9, what="")[0]
            status[c], keep[c] = "excluded", 0
        hopeful = [c for c in range(n) if status[c] == "hopeful"]
        if len(hopeful) <= seats - len(elected):
            for c in order_by_votes(hopeful, votes, history, names, "s", 9)[0]:
                status[c] = "elected"
                elected.append(c)
        rounds.append(({names[c]: fixed(votes[c], 9) for c in range(n)}, fixed(exhausted, 9), fixed(quota, 9)))
        history.append((len(rounds), votes))
        if len(elected) >= seats or "hopeful" not in status:
            return rounds


rankings = st.lists(
    st.tuples(st.permutations("ABCDEF"), st.integers(1, 6), st.integers(1, 4)),
    min_size=1,
    max_size=14,
).map(lambda rows: [RankedBallot(tuple(order[:length]), weight) for order, length, weight in rows])


@settings(max_examples=150, deadline=None)
@given(rows=rankings, seats=st.integers(1, 4))
def test_grouped_counting_gives_the_same_figures_as_walking_every_ballot(rows: list[RankedBallot], seats: int) -> None:
    result = count_stv("ABCDEF", rows, seats, "meek", seed="s")

    assert [(r.votes, r.exhausted, r.quota) for r in result.rounds] == ballot_by_ballot("ABCDEF", rows, seats)
