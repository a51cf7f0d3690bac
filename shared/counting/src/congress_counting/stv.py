"""Single transferable vote: the common types and the entry point (spec section 5).

Two counting rules, each in its own module:

- `wigm`: weighted inclusive Gregory as in the Scottish local-government rules (SSI 2007/42),
  values truncated to 5 decimal places, integer Droop quota.
- `meek`: Meek's method (Hill, Wichmann & Woodall, Algorithm 123) with the fixed-point precision
  of the New Zealand rules (9 decimal places), the quota recomputed at every iteration.

With one seat both are instant runoff. Arithmetic is exact (integers in units of the rules'
last decimal place), never floats. Ties are never broken silently: they go to the earlier
rounds (the candidate who had fewer, or more, votes at the most recent round where the tied
candidates differed), and if they were level at every round, to a lot drawn from a seed that
the result records, so a recount with the same seed reproduces it. By default the seed is
derived from the candidates and the ballots alone, never from their order.

Identical rankings are counted once, with their number as a weight: a real ballot set collapses
a lot, and every rule here treats identical papers identically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

METHODS = ("meek", "wigm")


class CountError(ValueError):
    """The ballots or the parameters cannot be counted."""


@dataclass(frozen=True)
class RankedBallot:
    ranking: tuple[str, ...]  # candidate names/ids, most preferred first
    weight: int = 1  # how many identical ballots (BLT multiplier)


@dataclass(frozen=True)
class Round:
    number: int
    votes: dict[str, str]  # candidate -> their total this round, as a decimal string
    exhausted: str  # non-transferable value so far, decimal string
    elected: tuple[str, ...]  # elected in this round
    excluded: tuple[str, ...]  # excluded in this round
    quota: str  # the quota in force this round
    note: str  # what happened, in sentences a person can follow


@dataclass(frozen=True)
class ElectionResult:
    method: str  # "meek" | "wigm"
    seats: int
    quota: str  # the final quota
    elected: tuple[str, ...]  # in order of election
    rounds: tuple[Round, ...]
    seed: str  # of the lot, recorded so a recount reproduces any tie broken by lot


@dataclass(frozen=True)
class Profile:
    """What the rules count: candidates by index, identical rankings merged (ranking -> weight)."""

    names: tuple[str, ...]  # the standing candidates, withdrawn ones removed
    groups: tuple[tuple[tuple[int, ...], int], ...]  # (ranking as indices, how many ballots), none empty
    preamble: str  # sentences for the first round's note: withdrawals, ballots set aside


def count_stv(
    candidates: Sequence[str],
    ballots: Iterable[RankedBallot],
    seats: int,
    method: str,
    withdrawn: Iterable[str] = (),
    seed: str | None = None,
) -> ElectionResult:
    """Count ranked ballots for `seats` seats by `method` ("meek" or "wigm")."""
    if method not in METHODS:
        raise CountError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise CountError(f"seats must be a whole number of at least 1, not {seats!r}")
    profile = build_profile(candidates, ballots, withdrawn)
    seed = seed or default_seed(profile)
    # Imported here: both rules import their types and tie-breaking from this module.
    if method == "wigm":
        from congress_counting import wigm

        return wigm.count(profile, seats, seed)
    from congress_counting import meek

    return meek.count(profile, seats, seed)


def build_profile(candidates: Sequence[str], ballots: Iterable[RankedBallot], withdrawn: Iterable[str]) -> Profile:
    names = list(candidates)
    if not names:
        raise CountError("there are no candidates")
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name:
            raise CountError(f"a candidate's name must be a non-empty string, not {name!r}")
        if name in seen:
            raise CountError(f"candidate {name!r} is listed twice")
        seen.add(name)
    gone = set()
    for name in withdrawn:
        if name not in seen:
            raise CountError(f"withdrawn candidate {name!r} is not a candidate")
        gone.add(name)
    # Merge identical rankings first and validate each distinct one once (ballot sets collapse a lot).
    merged: dict[tuple[str, ...], list[int]] = {}
    for number, ballot in enumerate(ballots, start=1):
        weight = ballot.weight
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
            raise CountError(f"ballot {number}: the weight must be a whole number of at least 1, not {weight!r}")
        ranking = tuple(ballot.ranking)
        entry = merged.get(ranking)
        if entry is None:
            merged[ranking] = [weight, number]
        else:
            entry[0] += weight
    standing = [name for name in names if name not in gone]
    index = {name: i for i, name in enumerate(standing)}
    groups: dict[tuple[int, ...], int] = {}
    set_aside = 0
    for ranking, (weight, number) in merged.items():
        for name in ranking:
            if name not in seen:
                raise CountError(f"ballot {number}: {name!r} is not a candidate")
        if len(set(ranking)) != len(ranking):
            twice = next(name for name in ranking if ranking.count(name) > 1)
            raise CountError(f"ballot {number}: {twice!r} is ranked twice")
        kept = tuple(index[name] for name in ranking if name not in gone)
        if not kept:
            set_aside += weight
            continue
        groups[kept] = groups.get(kept, 0) + weight
    if not standing:
        raise CountError("every candidate has withdrawn")
    notes = []
    if gone:
        notes.append(f"Withdrawn, and removed from every ranking: {', '.join(n for n in names if n in gone)}.")
    if set_aside:
        notes.append(f"{plural(set_aside, 'ballot')} naming no standing candidate set aside (not valid votes).")
    return Profile(tuple(standing), tuple(sorted(groups.items())), " ".join(notes))


def default_seed(profile: Profile) -> str:
    """A seed from the candidates and the ballots alone: the same ballots in any order give the same lot."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(profile.names).encode())
    for ranking, weight in profile.groups:  # already sorted
        digest.update(f"\x1e{weight}:{','.join(map(str, ranking))}".encode())
    return digest.hexdigest()[:16]


def lot_key(seed: str, name: str) -> str:
    """Each candidate's place in the lot: the order is fixed by the seed, never by the count."""
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def fixed(value: int, places: int) -> str:
    """A fixed-point integer (units of 10**-places) as a decimal string, exactly."""
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{part:0{places}d}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def choose(
    group: Sequence[int],
    current: Sequence[int],
    history: Sequence[tuple[int, Sequence[int]]],
    names: Sequence[str],
    seed: str,
    *,
    lowest: bool,
    show: int,
    what: str,
) -> tuple[int, str]:
    """The candidate of `group` with the lowest (or highest) `current` value.

    A tie goes to the earlier rounds in `history` ((round number, values), oldest first), the
    most recent round where the tied candidates differed deciding; if they were level at every
    round, to the lot. Returns the choice and a sentence on how a tie was broken ("" if none).
    """
    pick = min if lowest else max
    best = pick(current[c] for c in group)
    tied = [c for c in group if current[c] == best]
    if len(tied) == 1:
        return tied[0], ""
    listed = ", ".join(names[c] for c in sorted(tied, key=lambda c: names[c]))
    opening = f"Tie between {listed} ({fixed(best, show)} each) {what}"
    remaining = tied
    decided_at: list[int] = []
    for number, values in reversed(history):
        level = pick(values[c] for c in remaining)
        narrowed = [c for c in remaining if values[c] == level]
        if len(narrowed) < len(remaining):
            decided_at.append(number)
            remaining = narrowed
            if len(remaining) == 1:
                break
    if len(remaining) == 1:
        chosen = remaining[0]
        side = "fewest" if lowest else "most"
        if len(decided_at) == 1:
            where = f"round {decided_at[0]}, the most recent round where they differed"
        else:
            earlier = ", ".join(map(str, decided_at[:-1]))
            where = f"rounds {earlier} and {decided_at[-1]}, going back to where they differed"
        return chosen, f"{opening} broken by earlier rounds: {names[chosen]} had the {side} votes at {where}."
    chosen = min(remaining, key=lambda c: lot_key(seed, names[c]))
    narrowed_text = ""
    if decided_at:
        narrowed_text = f" narrowed by earlier rounds to {', '.join(names[c] for c in remaining)}, then"
    return chosen, (
        f"{opening}{narrowed_text} broken by lot (seed {seed}): {names[chosen]}; "
        f"they were level at every earlier round."
    )


def order_by_votes(
    group: Sequence[int],
    current: Sequence[int],
    history: Sequence[tuple[int, Sequence[int]]],
    names: Sequence[str],
    seed: str,
    show: int,
) -> tuple[list[int], list[str]]:
    """Candidates elected together, in order of election: most votes first, ties as in `choose`."""
    left = list(group)
    ordered: list[int] = []
    notes: list[str] = []
    while left:
        chosen, note = choose(
            left, current, history, names, seed, lowest=False, show=show, what="for the order of election"
        )
        ordered.append(chosen)
        left.remove(chosen)
        if note:
            notes.append(note)
    return ordered, notes


def result_json(result: ElectionResult) -> dict:
    """The shape `congress count stv --json` prints (spec section 4), plain JSON values."""
    return {
        "method": result.method,
        "seats": result.seats,
        "quota": result.quota,
        "elected": list(result.elected),
        "rounds": [
            {
                "number": r.number,
                "votes": dict(r.votes),
                "exhausted": r.exhausted,
                "elected": list(r.elected),
                "excluded": list(r.excluded),
                "quota": r.quota,
                "note": r.note,
            }
            for r in result.rounds
        ],
    }
