"""Declaring an election, or declaring it failed: the quorum and valid-vote rule (spec section 5).

Plain data in, plain JSON out, no framework: the voting service declares with it when a ballot
closes, and `congress count ballot` recounts a published record with it, so both agree.

- Quorum: as for motions, a ballot counts only if participation (every ballot cast, blank ones
  too) reaches the quorum fixed when it opened. An election that misses it elects no one.
- Valid votes: a ballot that names no standing candidate is cast but not a vote for anyone. An
  election with no valid vote elects no one either (a count would only draw lots).
- Otherwise the method counts (block, or STV by Meek or WIGM) and the result is declared.

A failed election's single round shows the ballots as cast (first preferences, or marks) and
says why no one is elected; nothing is counted further. Rounds and notes name each candidate
beside their id, so a person can follow the count without looking ids up.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

ELECTED, FAILED = "elected", "failed"


def declare_election(ballot: Mapping[str, Any], rankings: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The result of an election ballot described as its record describes it (`method`, `seats`,
    `quorum`, `electorate`, `seed`, `candidates` {id: name}), from the rankings (or marks) cast."""
    from congress_counting.block import count_block
    from congress_counting.stv import RankedBallot, count_stv, result_json

    names: dict[str, str] = dict(ballot["candidates"])
    candidates = sorted(names)
    cast = len(rankings)
    valid = sum(1 for ranking in rankings if ranking)
    quorum = ballot["quorum"]
    quorum_met = cast >= quorum
    reason = None
    if not quorum_met:
        reason = f"Quorum not met: {cast} of {ballot['electorate']} voted, {quorum} needed. No one is elected."
    elif not valid:
        reason = f"No valid votes: none of the {cast} ballots names a standing candidate. No one is elected."
    if reason is not None:
        result = _failed(ballot["method"], ballot["seats"], candidates, rankings, reason)
    elif ballot["method"] == "block":
        result = result_json(count_block(candidates, rankings, ballot["seats"], seed=ballot["seed"]))
    else:
        ranked = [RankedBallot(tuple(r)) for r in rankings]
        result = result_json(count_stv(candidates, ranked, ballot["seats"], ballot["method"], seed=ballot["seed"]))
    for round_ in result["rounds"]:
        round_["names"] = {c: names[c] for c in round_["votes"]}
        round_["note"] = with_names(round_["note"], names)
    return {
        **result,
        "elected_names": [names[c] for c in result["elected"]],
        "outcome": FAILED if reason else ELECTED,
        "reason": reason,
        "votes_cast": cast,
        "valid_votes": valid,
        "electorate": ballot["electorate"],
        "quorum": quorum,
        "quorum_met": quorum_met,
    }


def _failed(
    method: str, seats: int, candidates: list[str], rankings: Sequence[Sequence[str]], reason: str
) -> dict[str, Any]:
    """One round: the ballots as cast, in the method's own figures, and why no one is elected."""
    from congress_counting import meek, wigm
    from congress_counting.stv import fixed

    if method == "block":
        first = Counter(c for ranking in rankings for c in ranking)
        show = str
    else:
        first = Counter(ranking[0] for ranking in rankings if ranking)
        places = meek.PLACES if method == "meek" else wigm.PLACES

        def show(n: int) -> str:
            return fixed(n * 10**places, places)

    round_ = {
        "number": 1,
        "votes": {c: show(first[c]) for c in candidates},
        "exhausted": show(0),
        "elected": [],
        "excluded": [],
        "quota": "0",  # no count, so no quota
        "note": reason,
    }
    return {"method": method, "seats": seats, "quota": "0", "elected": [], "rounds": [round_]}


def label(candidate_id: str, name: str) -> str:
    """`Name (id…)`: the name to read, the start of the id to tell two of one name apart."""
    return f"{name} ({candidate_id[:8]})"


def with_names(note: str, names: Mapping[str, str]) -> str:
    """The note with every candidate id (a whole word, never part of a seed) labelled by name."""
    if not names or not note:
        return note
    ids = sorted(names, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])")
    return pattern.sub(lambda m: label(m.group(1), names[m.group(1)]), note)
