"""WIGM (the Scottish rules) against hand-worked counts, and against a paper-by-paper count."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from congress_counting.stv import RankedBallot, choose, count_stv, fixed


def ballots(*rows: tuple[int, str]) -> list[RankedBallot]:
    return [RankedBallot(tuple(ranking.split()), weight) for weight, ranking in rows]


# Hand-worked, 2 seats, 21 valid votes: quota floor(21/3) + 1 = 8.
#  Stage 1: A 11 (elected), B 3, C 4, D 3.
#  Stage 2: A's surplus 3 goes on every one of A's 11 papers at 3/11 = 0.272727… truncated to
#    0.27272: B +8 x 0.27272 = 2.18176 -> 5.18176, C +2 x 0.27272 = 0.54544 -> 4.54544; the one
#    paper ranking only A is non-transferable (0.27272), and 11 x 0.27272 = 2.99992 of the 3
#    leaves 0.00008 lost to truncation: 0.27280 non-transferable. A keeps the quota, 8.
#  Stage 3: D (3) is lowest; B and D are equal nowhere. D's 3 papers go to B at full value:
#    B 8.18176 reaches the quota and fills the second seat.
HAND = ballots((8, "A B"), (2, "A C"), (1, "A"), (3, "B"), (4, "C"), (3, "D B"))


def test_surplus_goes_on_all_papers_at_truncated_value_and_exhausted_papers_are_non_transferable() -> None:
    result = count_stv("ABCD", HAND, 2, "wigm")

    first, surplus, _ = result.rounds
    assert result.quota == "8" and first.quota == "8"
    assert first.votes == {"A": "11.00000", "B": "3.00000", "C": "4.00000", "D": "3.00000"}
    assert first.elected == ("A",) and first.exhausted == "0.00000"
    assert surplus.votes == {"A": "8.00000", "B": "5.18176", "C": "4.54544", "D": "3.00000"}
    assert surplus.exhausted == "0.27280"  # 0.27272 on the paper ranking only A, 0.00008 lost to truncation
    assert surplus.elected == () and surplus.excluded == ()
    assert "Surplus of A (3.00000) transferred" in surplus.note


def test_the_lowest_is_excluded_and_their_papers_go_on_at_full_value() -> None:
    result = count_stv("ABCD", HAND, 2, "wigm")

    exclusion = result.rounds[2]
    assert exclusion.excluded == ("D",)
    assert exclusion.votes == {"A": "8.00000", "B": "8.18176", "C": "4.54544", "D": "0.00000"}
    assert exclusion.elected == ("B",)
    assert "D excluded (lowest, 3.00000)" in exclusion.note
    assert result.elected == ("A", "B")
    assert len(result.rounds) == 3


def test_truncation_not_rounding_at_five_places() -> None:
    # 2 seats, 11 votes, quota 4: A's surplus 5 of 9 is 0.555555… per paper, truncated to 0.55555.
    result = count_stv("ABC", ballots((9, "A B"), (1, "B"), (1, "C")), 2, "wigm")

    assert result.rounds[1].votes["B"] == "5.99995"  # 1 + 9 x 0.55555; rounding would give 6.00004
    assert result.rounds[1].exhausted == "0.00005"  # what truncation lost
    assert result.elected == ("A", "B")


def test_surpluses_go_largest_first_and_a_new_surplus_waits_its_turn_by_size() -> None:
    # 4 seats, 54 votes, quota 11. Stage 1: A 20 and B 12 elected; A's surplus (9) is larger and
    # goes first, at 9/20 = 0.45: C 5 + 16 x 0.45 = 12.2, elected. At the end of stage 2 the
    # surpluses are B's 1 and C's 1.2: C's is larger and goes first, then B's.
    result = count_stv(
        "ABCDEF", ballots((16, "A C"), (4, "A"), (12, "B E"), (5, "C D"), (6, "D"), (5, "E"), (6, "F")), 4, "wigm"
    )

    first, second, third, fourth = result.rounds[:4]
    assert first.elected == ("A", "B")
    assert second.note.startswith("Surplus of A (9.00000)") and second.elected == ("C",)
    assert second.votes["C"] == "12.20000"
    assert third.note.startswith("Surplus of C (1.20000)")
    assert fourth.note.startswith("Surplus of B (1.00000)")
    assert result.elected == ("A", "B", "C", "D")


def test_equal_surpluses_go_in_order_of_the_earlier_stages() -> None:
    # 4 seats, 65 votes, quota 14. Stage 1: A 28, B 15 elected. A's surplus (14 of 28, so 0.5 a
    # paper) lifts C from 11 to 15. Now B and C both hold 15, surplus 1 each: at stage 1 B had 15
    # and C 11, so B's goes first.
    result = count_stv(
        "ABCDE", ballots((8, "A C E"), (20, "A"), (15, "B D"), (11, "C E"), (6, "D"), (5, "E")), 4, "wigm"
    )

    third, fourth = result.rounds[2:4]
    assert result.rounds[1].votes["B"] == result.rounds[1].votes["C"] == "15.00000"
    assert "Tie between B, C (15.00000 each) for the order of surpluses broken by earlier rounds" in third.note
    assert "B had the most votes at round 1" in third.note
    assert "Surplus of B (1.00000)" in third.note and third.votes["D"] == "6.99990"  # 15 x 0.06666
    assert "Surplus of C (1.00000)" in fourth.note


def test_a_tie_for_exclusion_is_broken_by_the_earlier_stages() -> None:
    # 1 seat, 14 votes, quota 8. Stage 1: B 5, C 3, D 4, E 2: E excluded; one paper goes to C.
    # Stage 2: C 4 = D 4, lowest. At stage 1 C had 3 and D 4: C is excluded, and C's papers
    # elect D. (Excluding D instead would have elected B: the rule decides the seat.)
    result = count_stv("BCDE", ballots((5, "B"), (3, "C D"), (4, "D"), (1, "E C D"), (1, "E")), 1, "wigm")

    exclusion = result.rounds[2]
    assert result.rounds[1].votes["C"] == result.rounds[1].votes["D"] == "4.00000"
    assert exclusion.excluded == ("C",)
    assert "broken by earlier rounds" in exclusion.note and "C had the fewest votes at round 1" in exclusion.note
    assert result.elected == ("D",)


TIED = ballots((3, "B"), (2, "C D"), (2, "D C"))  # 1 seat, quota 4: C and D level at 2, at every stage


def test_a_tie_level_at_every_stage_is_broken_by_lot_with_the_seed_recorded() -> None:
    result = count_stv("BCD", TIED, 1, "wigm", seed="congress-2026")

    (excluded,) = result.rounds[1].excluded
    assert excluded in ("C", "D")
    assert "by lot (seed congress-2026)" in result.rounds[1].note
    assert result.seed == "congress-2026"
    assert result.elected == ({"C": "D", "D": "C"}[excluded],)
    assert count_stv("BCD", TIED, 1, "wigm", seed="congress-2026") == result  # a recount draws the same lot


def test_the_lot_follows_the_seed() -> None:
    outcomes = {count_stv("BCD", TIED, 1, "wigm", seed=f"seed-{i}").elected for i in range(20)}

    assert outcomes == {("C",), ("D",)}


def test_the_default_seed_is_recorded_and_reproduces_the_lot() -> None:
    result = count_stv("BCD", TIED, 1, "wigm")

    assert result.seed and f"seed {result.seed}" in result.rounds[1].note
    assert count_stv("BCD", TIED, 1, "wigm", seed=result.seed) == result


def test_when_the_continuing_candidates_just_fill_the_seats_they_are_elected_without_the_quota() -> None:
    # 2 seats, 9 votes, quota 4: nobody reaches it; D, then C are excluded, leaving A and B for 2 seats.
    result = count_stv("ABCD", ballots((3, "A"), (3, "B"), (2, "C"), (1, "D")), 2, "wigm")

    last = result.rounds[-1]
    assert last.excluded == ("C",)
    assert set(last.elected) == {"A", "B"}
    assert "2 continuing candidates for 2 seats left" in last.note


# A count paper by paper, each paper its own Decimal value, as a returning officer would: the
# grouped count must give the same figures at every stage.
def paper_by_paper(candidates: str, rows: list[RankedBallot], seats: int) -> list[dict[str, str]]:
    place = Decimal("0.00001")
    papers = [[list(b.ranking), Decimal(1), 0] for b in rows for _ in range(b.weight) if b.ranking]
    valid = len(papers)
    quota = Decimal(valid // (seats + 1) + 1)
    status = dict.fromkeys(candidates, "hopeful")
    held = {c: [p for p in papers if p[0][0] == c] for c in candidates}
    done: set[str] = set()
    stages: list[dict[str, str]] = []
    history: list[tuple[int, list[int]]] = []
    index = {c: i for i, c in enumerate(candidates)}

    def total(c: str) -> Decimal:
        return quota if c in done else sum((p[1] for p in held[c]), Decimal(0))

    def units() -> list[int]:
        return [int(total(c) / place) for c in candidates]

    def move(c: str, factor_num: Decimal, factor_den: Decimal) -> None:
        for paper in held[c]:
            paper[1] = (factor_num * paper[1] / factor_den).quantize(place, rounding=ROUND_DOWN)
            for at in range(paper[2] + 1, len(paper[0])):
                if status[paper[0][at]] == "hopeful":
                    paper[2] = at
                    held[paper[0][at]].append(paper)
                    break
        held[c] = []

    def settle() -> None:
        elected = [c for c in candidates if status[c] == "elected"]
        for c in sorted((c for c in candidates if status[c] == "hopeful" and total(c) >= quota), key=total):
            status[c] = "elected"
        elected = [c for c in candidates if status[c] == "elected"]
        hopeful = [c for c in candidates if status[c] == "hopeful"]
        if len(hopeful) <= seats - len(elected):
            for c in hopeful:
                status[c] = "elected"
        stages.append({c: fixed(int(total(c) / place), 5) for c in candidates})
        history.append((len(stages), units()))

    settle()
    while sum(s == "elected" for s in status.values()) < seats and "hopeful" in status.values():
        pending = [c for c in candidates if status[c] == "elected" and c not in done and total(c) > quota]
        current = units()
        if pending:
            c = candidates[
                choose(
                    [index[p] for p in pending], current, history[:-1], candidates, "s", lowest=False, show=5, what=""
                )[0]
            ]
            whole = total(c)
            move(c, whole - quota, whole)
            done.add(c)
        else:
            hopeful = [index[c] for c in candidates if status[c] == "hopeful"]
            c = candidates[choose(hopeful, current, history[:-1], candidates, "s", lowest=True, show=5, what="")[0]]
            status[c] = "excluded"
            move(c, Decimal(1), Decimal(1))
        settle()
    return stages


rankings = st.lists(
    st.tuples(st.permutations("ABCDE"), st.integers(1, 5), st.integers(1, 4)),
    min_size=1,
    max_size=10,
).map(lambda rows: [RankedBallot(tuple(order[:length]), weight) for order, length, weight in rows])


@settings(max_examples=150, deadline=None)
@given(rows=rankings, seats=st.integers(1, 3))
def test_counting_groups_of_identical_papers_gives_the_same_stages_as_counting_paper_by_paper(
    rows: list[RankedBallot], seats: int
) -> None:
    result = count_stv("ABCDE", rows, seats, "wigm", seed="s")

    assert [r.votes for r in result.rounds] == paper_by_paper("ABCDE", rows, seats)
