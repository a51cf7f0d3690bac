"""A ballot's result as people read it: a motion's in one line, an election's round by round."""

from __future__ import annotations

import json
from typing import Any

from congress.cli.output import table

MOTION_RESULT = {"outcome", "tally", "cast", "electorate", "majority_rule", "majority_met", "quorum", "quorum_met"}
MOTION_TALLY = {"yes", "no", "abstain"}
BAR_WIDTH = 20


def turnout_bar(cast: int, electorate: int | None) -> str:
    """`[#########-----------]  212/500 voted (42%)`; rounded down, so a full bar means everyone."""
    if not electorate:
        return f"[{'-' * BAR_WIDTH}]  {cast} voted"
    filled = min(BAR_WIDTH, cast * BAR_WIDTH // electorate)
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}]  {cast}/{electorate} voted ({100 * cast // electorate}%)"


def is_motion_result(result: dict[str, Any]) -> bool:
    return MOTION_RESULT <= set(result) and isinstance(result["tally"], dict) and MOTION_TALLY <= set(result["tally"])


def describe_result(result: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """One line: a motion's outcome, tally, majority and quorum; an election's elected, by name."""
    if is_motion_result(result):
        tally = result["tally"]
        rule = str(result["majority_rule"]).replace("_", " ")
        return (
            f"{str(result['outcome']).replace('_', ' ')}: yes {tally['yes']}, no {tally['no']}, "
            f"abstain {tally['abstain']}; {result['cast']}/{result['electorate']} voted; "
            f"{rule} majority {'met' if result['majority_met'] else 'not met'}; "
            f"quorum {result['quorum']} {'met' if result['quorum_met'] else 'not met'}"
        )
    if "elected" in result:
        outcome = str(result.get("outcome") or "elected")
        if outcome != "elected":  # failed: the quorum missed, or no valid vote; the reason says which
            return f"{outcome.replace('_', ' ')}: {result.get('reason') or 'no one is elected'}"
        known = candidate_names(result, names)
        elected = result.get("elected_names") or [known.get(c, c) for c in result["elected"]]
        return f"elected: {', '.join(elected) or 'no one'}"
    return json.dumps(result, ensure_ascii=False)  # a shape this command line does not know: as it is


def candidate_names(result: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, str]:
    """Candidate id → name: from the election, then whatever names the result itself carries."""
    known = dict(names or {})
    for key in ("names", "candidates", "candidate_names"):
        found = result.get(key)
        if isinstance(found, dict):
            known.update({str(k): str(v) for k, v in found.items()})
    for r in result.get("rounds") or []:
        found = r.get("names") if isinstance(r, dict) else None
        if isinstance(found, dict):
            known.update({str(k): str(v) for k, v in found.items()})
    elected_names = result.get("elected_names")
    if isinstance(elected_names, list) and len(elected_names) == len(result.get("elected") or []):
        known.update(dict(zip(result["elected"], elected_names, strict=True)))
    return known


def print_election_result(result: dict[str, Any], names: dict[str, str] | None = None) -> None:
    """The count round by round, candidates by name: votes per round, then who was elected or
    excluded when; under STV also the exhausted votes and the quota; then each round's note."""
    known = candidate_names(result, names)
    rounds = [r for r in result.get("rounds") or [] if isinstance(r, dict)]
    print(f"result: {describe_result(result, known)}")
    if result.get("quorum") is not None and "quorum_met" in result:
        print(f"quorum: {result['quorum']} {'met' if result['quorum_met'] else 'not met'}")
    if not rounds:
        return
    elected = list(result.get("elected") or [])
    fate: dict[str, str] = {}
    for r in rounds:
        for c in r.get("elected") or []:
            fate.setdefault(c, f"elected in round {r.get('number')}")
        for c in r.get("excluded") or []:
            fate.setdefault(c, f"excluded in round {r.get('number')}")
    ids = list(dict.fromkeys(c for r in rounds for c in (r.get("votes") or {})))
    ids.sort(key=lambda c: (c not in elected, elected.index(c) if c in elected else 0, known.get(c, c)))
    header = ("candidate", *(f"round {r.get('number')}" for r in rounds), "outcome")
    rows = [
        (known.get(c, c), *(show_votes((r.get("votes") or {}).get(c)) for r in rounds), fate.get(c, "")) for c in ids
    ]
    if result.get("method") != "block":  # a block vote has marks, no quota and nothing to exhaust
        rows.append(("exhausted", *(show_votes(r.get("exhausted")) for r in rounds), ""))
        rows.append(("quota", *(show_votes(r.get("quota")) for r in rounds), ""))
    table(header, rows, numeric=tuple(range(1, len(rounds) + 1)))
    for r in rounds:
        if r.get("note"):
            print(f"round {r.get('number')}: {name_ids(str(r['note']), known)}")


def show_votes(value: Any) -> str:
    return "" if value is None else str(value)


def name_ids(text: str, names: dict[str, str]) -> str:
    """A note that names candidates by id, with their names instead."""
    for cid, name in names.items():
        text = text.replace(cid, name)
    return text
