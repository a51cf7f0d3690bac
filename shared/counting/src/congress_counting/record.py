"""The published record of a closed ballot: its canonical form, digest and signature, and its recount.

Digest: SHA-256 over the record without its digest and signature, as JSON with sorted keys, no
whitespace, UTF-8, ballots sorted by receipt and participants by id. It is what `ballot.closed`
publishes, so it names the record's content whoever signs it.

Signature: Ed25519 (`cryptography`) over the same JSON of the record without its signature (the
digest included), by the voting service's record signing key. The record
carries `{"algorithm": "Ed25519", "public_key": <base64 raw>, "value": <base64>}`; the public key
in it is only a label: a forger can put their own there, so a verifier checks against a key it
trusts (served by the API, `GET /api/v1/keys`).

Anyone can check and recount a record (`congress count ballot RECORD.json --url URL`): the
signature, the digest, the invariants (ballots equal participants, at most the electorate,
unique receipts and members, every ballot valid for its kind), then the count itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from congress_counting.declaring import declare_election
from congress_counting.motions import CHOICES, Tally, decide, tally

# 2: elections are declared or failed by the quorum and valid-vote rule, with names in rounds and notes.
RECORD_VERSION = 2
SIGNATURE_ALGORITHM = "Ed25519"
ELECTION_METHODS = ("meek", "wigm", "block")


def public_key_text(key: Ed25519PublicKey) -> str:
    """The form the API serves and `congress count ballot --key` takes: base64 of the raw 32 bytes."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


class RecordError(ValueError):
    pass


class SignatureError(RecordError):
    """The record is unsigned, or not signed by the trusted key, or altered since it was signed."""


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical(record: dict[str, Any]) -> bytes:
    """What the digest covers: neither the digest nor the signature (added after the digest)."""
    return _json({key: value for key, value in record.items() if key not in ("digest", "signature")})


def signed_bytes(record: dict[str, Any]) -> bytes:
    """What the signature covers: everything but the signature itself, the digest included."""
    return _json({key: value for key, value in record.items() if key != "signature"})


def digest(record: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical(record)).hexdigest()


def sign_record(record: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of `record` with its Ed25519 signature; signing again replaces the old one."""
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    value = key.sign(signed_bytes(unsigned))
    return {
        **unsigned,
        "signature": {
            "algorithm": SIGNATURE_ALGORITHM,
            "public_key": public_key_text(key.public_key()),
            "value": base64.b64encode(value).decode(),
        },
    }


def record_public_key_text(record: dict[str, Any]) -> str | None:
    """The key the record says signed it: a label to show, never a key to trust by itself."""
    signature = record.get("signature")
    key = signature.get("public_key") if isinstance(signature, dict) else None
    return key if isinstance(key, str) else None


def verify_record_signature(record: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless `public_key` (one the caller trusts) signed exactly this record."""
    signature = record.get("signature")
    if signature is None:
        raise SignatureError("the record is not signed")
    if not isinstance(signature, dict):
        raise SignatureError("the record's signature is not a JSON object")
    if signature.get("algorithm") != SIGNATURE_ALGORITHM:
        raise SignatureError(f"the record is signed with {signature.get('algorithm')!r}, not {SIGNATURE_ALGORITHM}")
    trusted = public_key_text(public_key)
    named = signature.get("public_key")
    if named != trusted:
        # Checked first so the message says which key; the value is verified with the trusted key anyway.
        raise SignatureError(f"the record is signed by another key ({named}), not the trusted key {trusted}")
    value = signature.get("value")
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    try:
        public_key.verify(raw, signed_bytes(record))
    except InvalidSignature:
        raise SignatureError(
            f"the signature does not match the record: it has been altered since key {trusted} signed it"
        ) from None


def motion_record(
    ballot: dict[str, Any],
    ballots: list[dict[str, str]],
    participants: list[dict[str, Any]],
    result: dict[str, Any],
) -> dict[str, Any]:
    record = {
        "record_version": RECORD_VERSION,
        "ballot": ballot,
        "ballots": sorted(ballots, key=lambda b: b["receipt"]),
        "participants": sorted(participants, key=lambda p: p["member_id"]),
        "result": result,
    }
    record["digest"] = digest(record)
    return record


def decision_summary(counted: Tally, ballot: dict[str, Any]) -> dict[str, Any]:
    decision = decide(counted, ballot["majority_rule"], ballot["electorate"], ballot["quorum"])
    return {
        "tally": {"yes": counted.yes, "no": counted.no, "abstain": counted.abstain},
        "cast": counted.cast,
        "electorate": decision.electorate,
        "majority_rule": decision.rule,
        "majority_met": decision.rule_met,
        "quorum": decision.quorum,
        "quorum_met": decision.quorum_met,
        "outcome": decision.outcome,
    }


def election_result(ballot: dict[str, Any], rankings: list[list[str]], version: int = RECORD_VERSION) -> dict[str, Any]:
    """Count an election's ballots by its method; the seed of any lot is the ballot's own id.
    Records of version 1 were counted without the quorum rule: they recount as they were counted."""
    if version >= 2:
        return declare_election(ballot, rankings)
    from congress_counting.block import count_block
    from congress_counting.stv import RankedBallot, count_stv, result_json

    candidates = sorted(ballot["candidates"])
    if ballot["method"] == "block":
        counted = count_block(candidates, rankings, ballot["seats"], seed=ballot["seed"])
    else:
        counted = count_stv(
            candidates,
            [RankedBallot(tuple(r)) for r in rankings],
            ballot["seats"],
            ballot["method"],
            seed=ballot["seed"],
        )
    result = result_json(counted)
    result["elected_names"] = [ballot["candidates"][c] for c in result["elected"]]
    return result


def election_record(
    ballot: dict[str, Any], ballots: list[dict[str, Any]], participants: list[dict[str, Any]]
) -> dict[str, Any]:
    record = {
        "record_version": RECORD_VERSION,
        "ballot": ballot,
        "ballots": sorted(ballots, key=lambda b: b["receipt"]),
        "participants": sorted(participants, key=lambda p: p["member_id"]),
        "result": election_result(ballot, [b["ranking"] for b in sorted(ballots, key=lambda b: b["receipt"])]),
    }
    record["digest"] = digest(record)
    return record


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_invariants(record: dict[str, Any]) -> None:
    """What every genuine record satisfies whatever its result: a forger who recomputed the digest
    (or even held the signing key) still has to keep to these."""
    ballot, ballots, participants = record["ballot"], record["ballots"], record["participants"]
    if not (isinstance(ballot, dict) and isinstance(ballots, list) and isinstance(participants, list)):
        raise RecordError("the ballot must be an object, the ballots and participants lists")
    electorate = ballot.get("electorate")
    if not _whole(electorate) or electorate < 0:
        raise RecordError(f"the electorate must be a whole number, not {electorate!r}")
    if len(ballots) != len(participants):
        raise RecordError(f"{len(ballots)} ballots but {len(participants)} participants")
    if len(ballots) > electorate:
        raise RecordError(f"{len(ballots)} ballots cast, more than the electorate of {electorate}")
    receipts = [b["receipt"] for b in ballots]
    if len(set(receipts)) != len(receipts):
        twice = next(r for r in receipts if receipts.count(r) > 1)
        raise RecordError(f"receipt {twice!r} appears twice")
    members = [p["member_id"] for p in participants]
    if len(set(members)) != len(members):
        twice = next(m for m in members if members.count(m) > 1)
        raise RecordError(f"member {twice!r} appears twice among the participants")
    kind = ballot.get("kind", "motion")  # records from before elections had no kind
    if kind == "motion":
        for b in ballots:
            if b.get("choice") not in CHOICES:
                raise RecordError(f"ballot {b['receipt']}: not a choice on a motion: {b.get('choice')!r}")
    elif kind == "election":
        _check_election_ballots(ballot, ballots)
    else:
        raise RecordError(f"unknown kind of ballot {kind!r}")
    if ballot.get("secrecy") == "named":
        # Who voted how is published: it must add up to the same ballots, one each.
        said = sorted(repr(p.get("choice") or p.get("ranking")) for p in participants)
        cast = sorted(repr(b.get("choice") or b.get("ranking")) for b in ballots)
        if said != cast:
            raise RecordError("the named votes of the participants do not match the ballots")


def _check_election_ballots(ballot: dict[str, Any], ballots: list[dict[str, Any]]) -> None:
    method, seats, candidates = ballot.get("method"), ballot.get("seats"), ballot.get("candidates")
    if method not in ELECTION_METHODS:
        raise RecordError(f"unknown election method {method!r}")
    if not _whole(seats) or seats < 1:
        raise RecordError(f"seats must be a whole number of at least 1, not {seats!r}")
    if not isinstance(candidates, dict) or not candidates:
        raise RecordError("the election names no candidates")
    for b in ballots:
        ranking = b.get("ranking")
        if not isinstance(ranking, list):
            raise RecordError(f"ballot {b['receipt']}: no ranking")
        for name in ranking:
            if name not in candidates:
                raise RecordError(f"ballot {b['receipt']}: {name!r} is not a candidate")
            if ranking.count(name) > 1:
                raise RecordError(f"ballot {b['receipt']}: {name!r} appears twice")
        if method == "block" and len(ranking) > seats:
            raise RecordError(f"ballot {b['receipt']}: marks {len(ranking)} candidates for {seats} seats")


def _difference(recounted: dict[str, Any], published: Any) -> str:
    """Where the recount and the published result part, briefly (an election's rounds are long)."""
    if not isinstance(published, dict):
        return f"the published result is {type(published).__name__}, not an object"
    parts = []
    for key in sorted(set(recounted) | set(published)):
        mine, theirs = recounted.get(key), published.get(key)
        if mine == theirs:
            continue
        if key == "rounds" and isinstance(theirs, list):
            number = next(
                (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False), start=1) if a != b),
                min(len(mine), len(theirs)) + 1,
            )
            parts.append(f"rounds: {len(mine)} recounted, {len(theirs)} published, first differing at round {number}")
        else:
            parts.append(f"{key}: recounted {mine!r}, published {theirs!r}")
    text = "; ".join(parts)
    return text if len(text) <= 400 else text[:399] + "…"


def recount(record: dict[str, Any]) -> dict[str, Any]:
    """Check the digest and the invariants, count the ballots again and compare with the result.
    The signature is checked apart (`verify_record_signature`): it needs a key the caller trusts."""
    for key in ("ballot", "ballots", "participants", "result", "digest"):
        if key not in record:
            raise RecordError(f"the record has no {key!r}")
    if digest(record) != record["digest"]:
        raise RecordError("the digest does not match the record: it has been altered")
    check_invariants(record)
    ballot = record["ballot"]
    if ballot.get("kind") == "election":
        version = record.get("record_version", 1)
        if not _whole(version):
            raise RecordError(f"the record version must be a whole number, not {version!r}")
        recounted = election_result(ballot, [b["ranking"] for b in record["ballots"]], version)
    else:
        recounted = decision_summary(tally(b["choice"] for b in record["ballots"]), ballot)
    if recounted != record["result"]:
        raise RecordError(f"the recount differs from the published result: {_difference(recounted, record['result'])}")
    return recounted
