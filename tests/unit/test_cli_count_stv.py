"""`congress count stv` as a user runs it: a real process, a real BLT file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from congress_counting.blt import read_blt
from congress_counting.stv import count_stv, result_json

CLI = Path(sys.executable).with_name("congress")
DATA = Path(__file__).parents[1] / "data" / "stv"
FOOD = DATA / "stv_wikipedia_example_food.blt"


def count(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "count", "stv", str(path), *args], capture_output=True, text=True)


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ballots.blt"
    path.write_text(text)
    return path


@pytest.mark.parametrize("method", ["meek", "wigm"])
def test_json_output_is_the_domains_result_in_the_spec_shape(method: str) -> None:
    done = count(FOOD, "--method", method, "--json")

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {"method", "seats", "quota", "elected", "rounds"}
    blt = read_blt(FOOD)
    assert printed == result_json(count_stv(blt.candidates, blt.ballots, blt.seats, method))
    assert set(printed["elected"]) == {"chocolate", "orange", "strawberry"}
    assert set(printed["rounds"][0]) == {"number", "votes", "exhausted", "elected", "excluded", "quota", "note"}


def test_seats_on_the_command_line_override_the_files() -> None:
    done = count(FOOD, "--method", "wigm", "--seats", "1", "--json")

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["seats"] == 1 and printed["elected"] == ["chocolate"] and printed["quota"] == "11"


def test_the_table_has_a_row_per_candidate_a_column_per_round_and_a_line_per_note() -> None:
    done = count(FOOD, "--method", "wigm")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Wikipedia STV example: food: wigm, 3 seats"
    assert lines[1].split() == ["candidate", "1", "2", "3", "4"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:10]}
    assert rows["chocolate"] == ["12.00000", "6.00000", "6.00000", "6.00000"]
    assert rows["exhausted"] == ["0.00000", "0.00000", "0.00000", "3.00000"]
    assert rows["quota"] == ["6", "6", "6", "6"]
    assert set(rows) == {"orange", "chocolate", "pear", "strawberry", "bonbon", "exhausted", "quota"}
    assert [line.split(":")[0] for line in lines[10:14]] == ["round 1", "round 2", "round 3", "round 4"]
    assert lines[-1] == "elected: chocolate, orange, strawberry"


def test_a_tie_settled_by_lot_names_the_seed_given_and_repeats_with_it(tmp_path: Path) -> None:
    path = written(tmp_path, '3 1\n3 1 0\n2 2 3 0\n2 3 2 0\n0\n"B"\n"C"\n"D"\n"Tie"\n')

    done = count(path, "--method", "meek", "--seed", "s-42")

    assert done.returncode == 0, done.stderr
    assert "broken by lot (seed s-42)" in done.stdout
    assert count(path, "--method", "meek", "--seed", "s-42").stdout == done.stdout


def test_withdrawn_candidates_in_the_file_are_honoured(tmp_path: Path) -> None:
    path = written(tmp_path, '3 1\n-3\n3 1 0\n2 2 3 0\n2 3 2 0\n0\n"B"\n"C"\n"D"\n"Withdrawal"\n')

    done = count(path, "--method", "wigm", "--json")

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert "D" not in printed["rounds"][0]["votes"]
    assert printed["elected"] == ["C"]  # D's supporters' second choice, C, has 4 of 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("three 1\n", ":1: the header must be two whole numbers"),
        ("3 1\n1 1 2\n0\n", ":2: ballot line does not end with 0"),
        ("3 1\n1 1 2 0\n1 4 0\n0\n", ":3: candidate number 4 is out of range (1 to 3)"),
        ("3 1\n1 1=2 0\n0\n", ":2: equal rankings ('=') are not supported"),
        ('3 1\n1 1 2 0\n"A"\n', ":3: missing the closing 0 line after the ballots"),
        ('3 1\n1 1 2 0\n0\n"A"\n"B"\n', ":5: expected 3 candidate names after the ballots, found 2"),
        ('3 1\n1 1 2 0\n0\n"A"\n"B"\n"C"\n', ":6: the title (a quoted line after the names) is missing"),
    ],
)
def test_a_bad_blt_file_exits_1_with_one_line_naming_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = written(tmp_path, text)

    done = count(path, "--method", "meek")

    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"congress: {path}{expected}")


def test_a_count_that_cannot_be_made_is_one_clear_line() -> None:
    done = count(FOOD, "--method", "wigm", "--seats", "0")

    assert done.returncode == 1
    assert done.stderr.strip() == f"congress: {FOOD}: seats must be a whole number of at least 1, not 0"


def test_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    done = count(tmp_path / "absent.blt", "--method", "meek")

    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot read" in done.stderr
