"""`congress count apportion` as a user runs it: a real process, a real file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from congress_counting.apportionment import apportion, summary

CLI = Path(sys.executable).with_name("congress")


def count(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "members.csv"
    path.write_text(text)
    return subprocess.run([CLI, "count", "apportion", str(path), *args], capture_output=True, text=True)


GOOD = "section,members\new,5000\nfr,3000\nde,1500\nbr,500\n"


@pytest.mark.parametrize("method", ["huntington-hill", "sainte-lague", "dhondt", "hamilton"])
def test_json_output_is_the_domains_result_in_the_spec_shape(tmp_path: Path, method: str) -> None:
    done = count(tmp_path, GOOD, "--seats", "10", "--method", method, "--min", "0", "--json")

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {"method", "seats", "allocations", "ties"}
    expected = summary(apportion({"ew": 5000, "fr": 3000, "de": 1500, "br": 500}, 10, method, minimum=0))
    assert printed == expected


def test_the_table_shows_every_section_and_reports_a_tie(tmp_path: Path) -> None:
    done = count(tmp_path, GOOD, "--seats", "10", "--method", "sainte-lague", "--min", "0")

    assert done.returncode == 0
    for code in ("ew", "fr", "de", "br"):
        assert code in done.stdout
    assert "tie: " in done.stdout and "settled by lot" in done.stdout


def test_extra_columns_and_blank_lines_are_fine(tmp_path: Path) -> None:
    done = count(tmp_path, "country,members,section\nUK,10,ew\n\nFrance,5,fr\n", "--seats", "3", "--method", "dhondt")

    assert done.returncode == 0, done.stderr
    assert "ew" in done.stdout and "fr" in done.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("section,people\new,5\n", ":1: the header has no 'members' column"),
        ("code,members\new,5\n", ":1: the header has no 'section' column"),
        ("section,members\new,5\nfr,-3\n", ":3: members of 'fr' cannot be negative"),
        ("section,members\new,5\nfr,many\n", ":3: members of 'fr' must be a whole number, not 'many'"),
        ("section,members\new,5\nfr,2.5\n", ":3: members of 'fr' must be a whole number"),
        ("section,members\new,5\nfr,3\new,7\n", ":4: section 'ew' appears twice (first on line 2)"),
        ("section,members\new\n", ":2: expected 2 columns, found 1"),
        ("section,members\n", "no sections in the file"),
    ],
)
def test_a_bad_csv_exits_non_zero_with_one_line_naming_the_row(tmp_path: Path, text: str, expected: str) -> None:
    done = count(tmp_path, text, "--seats", "5", "--method", "dhondt")

    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert expected in done.stderr


def test_more_minimum_seats_than_seats_is_one_clear_line(tmp_path: Path) -> None:
    done = count(tmp_path, GOOD, "--seats", "3", "--method", "dhondt")

    assert done.returncode == 1
    assert done.stderr.strip() == "congress: 4 sections with a minimum of 1 need 4 seats, more than the 3 to share"


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [CLI, "count", "apportion", str(tmp_path / "nope.csv"), "--seats", "3", "--method", "dhondt"],
        capture_output=True,
        text=True,
    )

    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot read" in done.stderr


def test_usage_errors_exit_2() -> None:
    done = subprocess.run([CLI, "count", "apportion", "x.csv", "--method", "dhondt"], capture_output=True, text=True)

    assert done.returncode == 2
    assert "--seats" in done.stderr


def test_seats_over_the_apis_cap_are_refused_at_once_with_one_line(tmp_path: Path) -> None:
    for seats in ("100000000", "0"):
        process = count(tmp_path, GOOD, "--seats", seats, "--method", "dhondt")
        assert process.returncode == 1 and len(process.stderr.strip().splitlines()) == 1
        assert "--seats must be between 1 and 100000" in process.stderr


def test_a_file_that_is_not_utf8_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("section,members\nÎle-de-France,100\n".encode("latin-1"))
    process = subprocess.run(
        [CLI, "count", "apportion", str(path), "--seats", "10", "--method", "dhondt"], capture_output=True, text=True
    )
    assert process.returncode == 1 and len(process.stderr.strip().splitlines()) == 1
    assert "not UTF-8" in process.stderr and "Traceback" not in process.stderr
