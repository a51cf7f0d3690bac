from __future__ import annotations

import copy

import pytest

from voting.domain.motions import tally
from voting.domain.record import RecordError, decision_summary, motion_record, recount

BALLOT = {
    "id": "b1",
    "title": "Adopt the programme",
    "majority_rule": "two_thirds",
    "electorate": 5,
    "quorum": 3,
    "secrecy": "secret",
}
BALLOTS = [{"receipt": r, "choice": c} for r, c in [("r3", "yes"), ("r1", "yes"), ("r2", "no"), ("r4", "abstain")]]
PARTICIPANTS = [{"member_id": m} for m in ("m2", "m4", "m1", "m3")]


def record() -> dict:
    return motion_record(BALLOT, BALLOTS, PARTICIPANTS, decision_summary(tally(b["choice"] for b in BALLOTS), BALLOT))


def test_a_record_recounts_to_its_published_result() -> None:
    published = record()

    assert recount(published) == published["result"]
    assert published["result"]["outcome"] == "adopted"  # 2 yes of 3 for/against is exactly two thirds
    assert [b["receipt"] for b in published["ballots"]] == ["r1", "r2", "r3", "r4"]
    assert published["digest"].startswith("sha256:")


def test_the_digest_does_not_depend_on_the_order_of_keys() -> None:
    published = record()
    reordered = {key: published[key] for key in reversed(list(published))}

    assert recount(reordered) == published["result"]


def test_one_altered_ballot_fails_the_digest_check() -> None:
    altered = copy.deepcopy(record())
    altered["ballots"][1]["choice"] = "yes"

    with pytest.raises(RecordError, match="digest"):
        recount(altered)


def test_a_forged_record_with_a_matching_digest_still_fails_the_recount() -> None:
    from voting.domain.record import digest

    forged = copy.deepcopy(record())
    forged["ballots"][1]["choice"] = "yes"
    forged["digest"] = digest(forged)  # whoever forged it recomputed the digest, but not the result

    with pytest.raises(RecordError, match="recount differs"):
        recount(forged)


def test_more_ballots_than_participants_is_refused() -> None:
    stuffed = copy.deepcopy(record())
    stuffed["ballots"].append({"receipt": "r9", "choice": "yes"})
    from voting.domain.record import digest

    stuffed["digest"] = digest(stuffed)
    with pytest.raises(RecordError, match="participants"):
        recount(stuffed)


def test_a_named_record_whose_participants_do_not_match_the_ballots_is_refused() -> None:
    from voting.domain.record import digest

    named_ballot = {**BALLOT, "secrecy": "named"}
    participants = [{"member_id": f"m{i}", "choice": b["choice"]} for i, b in enumerate(BALLOTS, start=1)]
    good = motion_record(
        named_ballot, BALLOTS, participants, decision_summary(tally(b["choice"] for b in BALLOTS), named_ballot)
    )
    assert recount(good)["outcome"] == "adopted"

    forged = copy.deepcopy(good)
    forged["participants"][0]["choice"] = "no" if forged["participants"][0]["choice"] == "yes" else "yes"
    forged["digest"] = digest(forged)
    with pytest.raises(RecordError, match="named votes"):
        recount(forged)
