"""Block vote: each voter marks up to N candidates; the N with the most marks are elected.

A tie at the last seat(s) is never settled silently: the tied candidates are ranked by lot with
a recorded seed (so a recount settles it the same way) and the round note says so.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence

from congress_counting.stv import CountError, ElectionResult, Round


def lot_rank(seed: str, candidate: str) -> str:
    return hashlib.sha256(f"{seed}:{candidate}".encode()).hexdigest()


def count_block(candidates: Sequence[str], ballots: Iterable[Sequence[str]], seats: int, seed: str) -> ElectionResult:
    if seats < 1:
        raise CountError("an election fills at least one seat")
    known = set(candidates)
    marks: Counter[str] = Counter(dict.fromkeys(candidates, 0))
    for number, ballot in enumerate(ballots, start=1):
        if len(set(ballot)) != len(ballot):
            raise CountError(f"ballot {number} marks a candidate twice")
        if len(ballot) > seats:
            raise CountError(f"ballot {number} marks {len(ballot)} candidates; at most {seats} may be marked")
        unknown = set(ballot) - known
        if unknown:
            raise CountError(f"ballot {number} marks someone who is not a candidate: {sorted(unknown)}")
        marks.update(ballot)
    ranked = sorted(candidates, key=lambda c: (-marks[c], lot_rank(seed, c)))
    elected = ranked[:seats]
    note = f"the {min(seats, len(ranked))} candidate(s) with the most marks are elected"
    if len(ranked) > seats:
        boundary = marks[ranked[seats - 1]]
        level = [c for c in ranked if marks[c] == boundary]
        inside = [c for c in level if c in elected]
        if len(level) > len(inside):
            note += (
                f"; {', '.join(level)} tied on {boundary} mark(s) for the last {len(inside)} seat(s): "
                f"settled by lot (seed {seed}) for {', '.join(inside)}"
            )
    round_ = Round(
        number=1,
        votes={c: str(marks[c]) for c in candidates},
        exhausted="0",
        elected=tuple(elected),
        excluded=(),
        quota="0",
        note=note,
    )
    return ElectionResult(method="block", seats=seats, quota="0", elected=tuple(elected), rounds=(round_,), seed=seed)
