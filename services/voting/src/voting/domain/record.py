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


def election_result(ballot: dict[str, Any], rankings: list[list[str]]) -> dict[str, Any]:
    """Count an election's ballots by its method; the seed of any lot is the ballot's own id."""
    from voting.domain.block import count_block
    from voting.domain.stv import RankedBallot, count_stv, result_json

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
    if record["ballot"].get("secrecy") == "named":
        # Who voted how is published: it must add up to the same ballots, one each.
        said = sorted(repr(p.get("choice") or p.get("ranking")) for p in record["participants"])
        cast = sorted(repr(b.get("choice") or b.get("ranking")) for b in record["ballots"])
        if said != cast:
            raise RecordError("the named votes of the participants do not match the ballots")
    if record["ballot"].get("kind") == "election":
        recounted = election_result(record["ballot"], [b["ranking"] for b in record["ballots"]])
    else:
        recounted = decision_summary(tally(b["choice"] for b in record["ballots"]), record["ballot"])
    if recounted != record["result"]:
        raise RecordError(f"the recount differs from the published result: {recounted} != {record['result']}")
    return recounted
