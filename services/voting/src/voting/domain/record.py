"""The published record of a closed ballot, its canonical form and digest, and its recount.

Canonical form: the record without its digest, as JSON with sorted keys, no whitespace, UTF-8,
with ballots sorted by receipt and participants by id. The digest is SHA-256 over that.
Anyone can recount a record and check its digest (`congress count ballot RECORD.json`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from voting.domain.motions import Tally, decide, tally

RECORD_VERSION = 1


class RecordError(ValueError):
    pass


def canonical(record: dict[str, Any]) -> bytes:
    body = {key: value for key, value in record.items() if key != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(record: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical(record)).hexdigest()


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


def recount(record: dict[str, Any]) -> dict[str, Any]:
    """Check the digest and the ballot's internal consistency, count it again and compare."""
    for key in ("ballot", "ballots", "participants", "result", "digest"):
        if key not in record:
            raise RecordError(f"the record has no {key!r}")
    if digest(record) != record["digest"]:
        raise RecordError("the digest does not match the record: it has been altered")
    receipts = [b["receipt"] for b in record["ballots"]]
    if len(set(receipts)) != len(receipts):
        raise RecordError("a receipt appears twice")
    if len(record["ballots"]) != len(record["participants"]):
        raise RecordError(f"{len(record['ballots'])} ballots but {len(record['participants'])} participants")
    recounted = decision_summary(tally(b["choice"] for b in record["ballots"]), record["ballot"])
    if recounted != record["result"]:
        raise RecordError(f"the recount differs from the published result: {recounted} != {record['result']}")
    return recounted
