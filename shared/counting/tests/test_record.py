from __future__ import annotations

import base64
import copy
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from congress_counting.motions import tally
from congress_counting.record import (
    RecordError,
    SignatureError,
    decision_summary,
    digest,
    election_record,
    motion_record,
    public_key_text,
    record_public_key_text,
    recount,
    sign_record,
    verify_record_signature,
)

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
    from congress_counting.record import digest

    forged = copy.deepcopy(record())
    forged["ballots"][1]["choice"] = "yes"
    forged["digest"] = digest(forged)  # whoever forged it recomputed the digest, but not the result

    with pytest.raises(RecordError, match="recount differs"):
        recount(forged)


def test_more_ballots_than_participants_is_refused() -> None:
    stuffed = copy.deepcopy(record())
    stuffed["ballots"].append({"receipt": "r9", "choice": "yes"})
    from congress_counting.record import digest

    stuffed["digest"] = digest(stuffed)
    with pytest.raises(RecordError, match="participants"):
        recount(stuffed)


def test_a_named_record_whose_participants_do_not_match_the_ballots_is_refused() -> None:
    from congress_counting.record import digest

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


# Signing (issue 11): Ed25519 over the record without its signature; a verifier trusts a key it knows.

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


def test_a_signed_record_verifies_with_the_signing_key_and_keeps_its_digest() -> None:
    unsigned = record()
    signed = sign_record(unsigned, KEY)

    verify_record_signature(signed, KEY.public_key())
    assert "signature" not in unsigned  # a copy: the service's record is not changed under it
    assert signed["digest"] == unsigned["digest"] == digest(signed)  # ballot.closed published this digest
    assert signed["signature"]["algorithm"] == "Ed25519"
    assert signed["signature"]["public_key"] == public_key_text(KEY.public_key())
    assert len(base64.b64decode(signed["signature"]["value"], validate=True)) == 64
    assert recount(signed) == signed["result"]


def test_the_signature_survives_a_json_round_trip_and_any_order_of_keys() -> None:
    signed = sign_record(record(), KEY)
    stored = json.loads(json.dumps({key: signed[key] for key in reversed(list(signed))}, indent=2))

    verify_record_signature(stored, KEY.public_key())


def test_the_signature_covers_the_canonical_json_without_itself() -> None:
    signed = sign_record(record(), KEY)
    body = {key: value for key, value in signed.items() if key != "signature"}
    expected = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    KEY.public_key().verify(base64.b64decode(signed["signature"]["value"]), expected)


def test_signing_again_replaces_the_signature() -> None:
    again = sign_record(sign_record(record(), OTHER), KEY)

    verify_record_signature(again, KEY.public_key())


def test_an_unsigned_record_is_refused() -> None:
    with pytest.raises(SignatureError, match="not signed"):
        verify_record_signature(record(), KEY.public_key())


@pytest.mark.parametrize("part", ["ballots", "digest", "result", "record_version"])
def test_any_change_after_signing_is_refused(part: str) -> None:
    signed = sign_record(record(), KEY)
    forged = copy.deepcopy(signed)
    if part == "ballots":
        forged["ballots"][0]["choice"], forged["ballots"][2]["choice"] = "no", "yes"  # swapped: same tally
    elif part == "result":
        forged["result"]["outcome"] = "rejected"
    else:
        forged[part] = "sha256:" + "0" * 64 if part == "digest" else forged[part] + 1

    with pytest.raises(SignatureError, match=r"altered since key .* signed it"):
        verify_record_signature(forged, KEY.public_key())


def test_a_record_signed_by_another_key_is_refused_whatever_it_names() -> None:
    forged = sign_record(record(), OTHER)
    with pytest.raises(SignatureError, match="signed by another key"):
        verify_record_signature(forged, KEY.public_key())

    forged["signature"]["public_key"] = public_key_text(KEY.public_key())  # the label lies; the value does not
    with pytest.raises(SignatureError, match="altered"):
        verify_record_signature(forged, KEY.public_key())


@pytest.mark.parametrize(
    ("signature", "says"),
    [
        ("abc", "not a JSON object"),
        ({"algorithm": "HS256"}, "signed with 'HS256', not Ed25519"),
        ({"algorithm": "Ed25519", "value": "AAAA"}, "another key"),
    ],
)
def test_a_malformed_signature_is_refused(signature: object, says: str) -> None:
    forged = {**record(), "signature": signature}

    with pytest.raises(SignatureError, match=says):
        verify_record_signature(forged, KEY.public_key())


def test_a_value_that_is_not_base64_is_refused_as_altered() -> None:
    forged = sign_record(record(), KEY)
    forged["signature"]["value"] = "not base64!"

    with pytest.raises(SignatureError, match="altered"):
        verify_record_signature(forged, KEY.public_key())


def test_the_record_names_its_key_as_a_label() -> None:
    assert record_public_key_text(record()) is None
    assert record_public_key_text(sign_record(record(), OTHER)) == public_key_text(OTHER.public_key())


# Invariants a forger who recomputed the digest still has to keep


def restamped(changed: dict) -> dict:
    changed["digest"] = digest(changed)
    return changed


def test_more_ballots_than_the_electorate_is_refused() -> None:
    stuffed = copy.deepcopy(record())
    stuffed["ballots"] += [{"receipt": "r8", "choice": "yes"}, {"receipt": "r9", "choice": "yes"}]
    stuffed["participants"] += [{"member_id": "m8"}, {"member_id": "m9"}]
    stuffed["result"] = decision_summary(tally(b["choice"] for b in stuffed["ballots"]), BALLOT)

    with pytest.raises(RecordError, match="6 ballots cast, more than the electorate of 5"):
        recount(restamped(stuffed))


def test_a_member_twice_among_the_participants_is_refused() -> None:
    forged = copy.deepcopy(record())
    forged["participants"][1]["member_id"] = forged["participants"][0]["member_id"]

    with pytest.raises(RecordError, match="member 'm1' appears twice"):
        recount(restamped(forged))


ELECTION = {
    "id": "b2",
    "kind": "election",
    "secrecy": "secret",
    "method": "block",
    "seats": 2,
    "electorate": 5,
    "quorum": 3,
    "seed": "b2",
    "candidates": {"c1": "Ana", "c2": "Ben", "c3": "Cas"},
}


def election(method: str) -> dict:
    ballots = [{"receipt": f"r{i}", "ranking": r} for i, r in enumerate([["c1", "c2"], ["c2"], ["c3", "c1"], []])]
    return election_record({**ELECTION, "method": method}, ballots, [{"member_id": f"m{i}"} for i in range(4)])


@pytest.mark.parametrize("method", ["meek", "wigm", "block"])
def test_an_election_record_recounts_to_its_published_result(method: str) -> None:
    published = sign_record(election(method), KEY)

    verify_record_signature(published, KEY.public_key())
    assert recount(published) == published["result"]
    assert published["result"]["method"] == method


@pytest.mark.parametrize(
    ("method", "ranking", "says"),
    [
        ("meek", ["c1", "zed"], "'zed' is not a candidate"),
        ("wigm", ["c2", "c2"], "'c2' appears twice"),
        ("block", ["c1", "c2", "c3"], "marks 3 candidates for 2 seats"),
        ("meek", "c1", "no ranking"),
    ],
)
def test_an_election_ballot_invalid_for_its_kind_is_refused(method: str, ranking: object, says: str) -> None:
    forged = copy.deepcopy(election(method))
    forged["ballots"][0]["ranking"] = ranking

    with pytest.raises(RecordError, match=says):
        recount(restamped(forged))
