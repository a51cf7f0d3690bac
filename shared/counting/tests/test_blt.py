"""The BLT reader: what it accepts, and one clear error naming the line for what it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from congress_counting.blt import BltError, parse_blt, read_blt, write_blt
from congress_counting.stv import RankedBallot

GOOD = """\
# A comment line, and a blank line below
4 2
-3
3 1 2 0   # three ballots ranking Adam then Boaz
2 2 4 3 0
1 4 0
1 0
0
"Adam"
"Boaz"
"Cain # not a comment"
"Dan"
"Example election"
"""


def test_a_well_formed_file_gives_title_candidates_seats_withdrawn_and_weighted_ballots() -> None:
    blt = parse_blt(GOOD, "good.blt")

    assert blt.title == "Example election"
    assert blt.candidates == ("Adam", "Boaz", "Cain # not a comment", "Dan")
    assert blt.seats == 2
    assert blt.withdrawn == ("Cain # not a comment",)
    assert blt.ballots == (
        RankedBallot(("Adam", "Boaz"), 3),
        RankedBallot(("Boaz", "Dan", "Cain # not a comment"), 2),
        RankedBallot(("Dan",), 1),
        RankedBallot((), 1),  # a blank ballot is read; the count sets it aside
    )
    assert tuple(blt) == (blt.title, blt.candidates, blt.seats, blt.withdrawn, blt.ballots)


def test_names_may_share_a_line_and_keep_inner_spaces() -> None:
    blt = parse_blt('2 1\n1 1 2 0\n0\n"Kevin  LANG" "Ann"\n"T"\n')

    assert blt.candidates == ("Kevin  LANG", "Ann")
    assert blt.title == "T"


def test_what_write_blt_writes_reads_back_the_same() -> None:
    ballots = [RankedBallot(("b", "a"), 4), RankedBallot(("c",), 1), RankedBallot((), 2)]

    blt = parse_blt(write_blt("Round trip", ["a", "b", "c"], 2, ballots))

    assert blt == ("Round trip", ("a", "b", "c"), 2, (), tuple(ballots))


def test_read_blt_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "e.blt"
    path.write_text(GOOD)
    assert read_blt(path).seats == 2

    path.write_text("3 1\n1 4 0\n0\n")
    with pytest.raises(BltError, match=rf"^{path}:2: candidate number 4 is out of range \(1 to 3\)$"):
        read_blt(path)


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BltError, match="cannot read"):
        read_blt(tmp_path / "absent.blt")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "x.blt:1: empty file"),
        ("# only a comment\n", "x.blt:1: empty file"),
        ("three 1\n", "x.blt:1: the header must be two whole numbers"),
        ("3\n", "x.blt:1: the header must be two whole numbers"),
        ("\n\n3 1 7\n", "x.blt:3: the header must be two whole numbers"),
        ("0 1\n0\n", "x.blt:1: the header needs at least 1 candidate and 1 seat"),
        ("3 0\n0\n", "x.blt:1: the header needs at least 1 candidate and 1 seat"),
        ("3 1\n-4\n", "x.blt:2: withdrawn candidate 4 is out of range (1 to 3)"),
        ("3 1\n-1 2\n", "x.blt:2: the withdrawn line must hold negative candidate numbers only"),
        ("3 1\n-1 -1\n", "x.blt:2: candidate 1 is withdrawn twice"),
        ("3 1\n1 1 2 0\n1 2 3\n", "x.blt:3: ballot line does not end with 0"),
        ("3 1\n1 1 2 0\n1 2 x 0\n", "x.blt:3: ballot line has 'x', not a whole number"),
        ("3 1\n1 1=2 0\n", "x.blt:2: equal rankings ('=') are not supported"),
        ("3 1\n1 1 4 0\n", "x.blt:2: candidate number 4 is out of range (1 to 3)"),
        ("3 1\n1 1 -2 0\n", "x.blt:2: candidate number -2 is out of range (1 to 3)"),
        ("3 1\n1 1 0 2 0\n", "x.blt:2: 0 before the end of the ballot line"),
        ("3 1\n1 1 2 1 0\n", "x.blt:2: candidate 1 is ranked twice"),
        ("3 1\n0 1 2 0\n", "x.blt:2: ballot weight must be at least 1, not 0"),
        ("3 1\n1 1 0\n", "x.blt:2: the file ends before the closing 0 line"),
        ('3 1\n1 1 0\n"A"\n', "x.blt:3: missing the closing 0 line after the ballots"),
        ('3 1\n1 1 0\n0\n"A"\n"B"\n', "x.blt:5: expected 3 candidate names after the ballots, found 2"),
        ('3 1\n1 1 0\n0\n"A"\nB\n', "x.blt:5: expected a candidate name in double quotes, not 'B'"),
        ('3 1\n1 1 0\n0\n"A"\n"B"\n"C"\n', "x.blt:6: the title (a quoted line after the names) is missing"),
        ('3 1\n1 1 0\n0\n"A"\n"B"\n"C"\n"T"\n"extra"\n', "x.blt:8: unexpected text after the title"),
        ('3 1\n1 1 0\n0\n"A"\n"B"\n"A"\n"T"\n', "x.blt:6: candidate name 'A' appears twice"),
        ('2 1\n1 1 0\n0\n"A"\n""\n"T"\n', "x.blt:5: candidate 2 has an empty name"),
    ],
)
def test_each_malformed_file_is_refused_with_its_line_number(text: str, expected: str) -> None:
    with pytest.raises(BltError) as raised:
        parse_blt(text, "x.blt")

    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)
