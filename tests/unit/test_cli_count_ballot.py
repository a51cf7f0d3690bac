"""`congress count ballot` as anyone holding a published record runs it: a real process, a real file."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from voting.domain.motions import tally
from voting.domain.record import decision_summary, digest, motion_record

CLI = Path(sys.executable).with_name("congress")

BALLOT = {
    "id": "b1",
    "kind": "motion",
    "motion_id": "m1",
    "title": "Adopt the programme — 2027",
    "body_id": "congress",
    "secrecy": "secret",
    "majority_rule": "two_thirds",
    "electorate": 5,
    "quorum": 3,
}
CHOICES = [("r3", "yes"), ("r1", "yes"), ("r2", "no"), ("r4", "abstain")]


def published(ballot: dict[str, Any] = BALLOT, choices: list[tuple[str, str]] = CHOICES) -> dict[str, Any]:
    ballots = [{"receipt": receipt, "choice": choice} for receipt, choice in choices]
    participants = [{"member_id": f"m{i}", "name": f"Delegate {i}", "section": "ew"} for i in range(len(ballots))]
    result = decision_summary(tally(b["choice"] for b in ballots), ballot)
    return motion_record(ballot, ballots, participants, result)


def count(tmp_path: Path, content: str | dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "record.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), encoding="utf-8")
    return subprocess.run([CLI, "count", "ballot", str(path), *args], capture_output=True, text=True)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert (done.returncode, done.stdout) == (1, ""), (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("congress: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr.rstrip("\n")


def test_the_recount_is_printed_readably_with_the_digest_checked(tmp_path: Path) -> None:
    record = published()

    done = count(tmp_path, record)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "Adopt the programme — 2027\n"
        "ballot:    b1 (secret)\n"
        "tally:     yes 2, no 1, abstain 1\n"
        "cast:      4 of 5 (80%)\n"
        "majority:  two thirds, met\n"
        "quorum:    3 votes, met\n"
        "outcome:   adopted\n"
        f"digest OK: {record['digest']}; the recount matches the published result\n"
    )


def test_json_output_is_the_recounted_result(tmp_path: Path) -> None:
    record = published()

    done = count(tmp_path, record, "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == record["result"]


def test_a_ballot_short_of_its_quorum_says_what_was_not_met(tmp_path: Path) -> None:
    done = count(tmp_path, published(choices=[("r1", "yes"), ("r2", "no")]))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "majority:  two thirds, not met" in lines
    assert "quorum:    3 votes, not met" in lines
    assert "outcome:   no quorum" in lines


def test_one_altered_ballot_is_one_line_about_the_digest(tmp_path: Path) -> None:
    altered = copy.deepcopy(published())
    altered["ballots"][1]["choice"] = "yes"

    line = one_line_error(count(tmp_path, altered))

    assert line == f"congress: {tmp_path / 'record.json'}: the digest does not match the record: it has been altered"


def test_a_forged_digest_still_fails_the_recount(tmp_path: Path) -> None:
    forged = copy.deepcopy(published())
    forged["ballots"][1]["choice"] = "yes"
    forged["digest"] = digest(forged)  # recomputed, but the published result was left as it was

    line = one_line_error(count(tmp_path, forged))

    assert line.startswith(f"congress: {tmp_path / 'record.json'}: the recount differs from the published result")


def test_a_forged_choice_that_is_not_on_a_motion_is_one_line(tmp_path: Path) -> None:
    forged = copy.deepcopy(published())
    forged["ballots"][1]["choice"] = "maybe"
    forged["digest"] = digest(forged)

    assert "not a choice on a motion: 'maybe'" in one_line_error(count(tmp_path, forged))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a ballot record"),
        ('{"ballot": {}}', "the record has no 'ballots'"),
    ],
)
def test_what_is_not_a_record_is_one_line(tmp_path: Path, content: str, says: str) -> None:
    assert says in one_line_error(count(tmp_path, content))


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([CLI, "count", "ballot", str(tmp_path / "nope.json")], capture_output=True, text=True)

    assert one_line_error(done) == f"congress: {tmp_path / 'nope.json'}: cannot read: No such file or directory"


def test_a_well_formed_digest_over_a_malformed_record_is_one_line(tmp_path: Path) -> None:
    broken = copy.deepcopy(published())
    del broken["ballot"]["majority_rule"]
    broken["digest"] = digest(broken)

    assert "not a well-formed ballot record" in one_line_error(count(tmp_path, broken))
