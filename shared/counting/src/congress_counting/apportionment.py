"""Apportionment of congress delegates among sections by membership (spec section 5).

Divisor methods (`huntington-hill`, `sainte-lague`, `dhondt`): every section first gets the
minimum, then each further seat goes to the section with the highest priority
members / d(seats held), with d(s) = sqrt(s(s+1)), s + 1/2 and s + 1 respectively.
`hamilton`: largest remainder with the Hare quota; a section whose exact quota is below the
minimum gets the minimum and is set aside, and the rest share the remaining seats.

Comparisons are exact (integers and Fractions; Huntington-Hill compares squared priorities),
never floats. Ties are never broken silently: when sections share the priority or remainder at
the last seat and not all can have one, they are ranked by lot and the tie is reported with
its resolution. The lot is a ranking derived from a seed (recorded in the result; by default
derived from the membership figures alone), so a recount, the CLI and the API give the same
result, and the ranking never depends on the number of seats, which keeps the divisor methods
house-monotone.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

METHODS = ("huntington-hill", "sainte-lague", "dhondt", "hamilton")
DIVISOR_METHODS = ("huntington-hill", "sainte-lague", "dhondt")


class ApportionmentError(ValueError):
    """The figures or the parameters cannot give an apportionment."""


@dataclass(frozen=True)
class Allocation:
    section: str
    members: int
    seats: int
    # Divisor methods: the priority with which the section won its last seat beyond the minimum
    # (None if it has only the minimum). Hamilton: its exact quota (members / Hare quota).
    priority: Fraction | float | None

    def priority_text(self, method: str) -> str | None:
        return format_priority(self.priority, method)


@dataclass(frozen=True)
class Tie:
    """Sections level at the last seat(s), more of them than seats left: settled by lot."""

    value: Fraction | float  # the shared priority (squared for Huntington-Hill; inf) or remainder
    sections: tuple[str, ...]  # every section in the tie, in the order the lot ranked them
    seats: int  # how many of them got a seat
    winners: tuple[str, ...]
    resolved_by: str = "lot"


@dataclass(frozen=True)
class Apportionment:
    method: str
    seats: int
    minimum: int
    seed: str
    allocations: tuple[Allocation, ...]
    ties: tuple[Tie, ...] = field(default=())

    def seats_of(self) -> dict[str, int]:
        return {a.section: a.seats for a in self.allocations}


def format_priority(value: Fraction | float | None, method: str) -> str | None:
    """A priority as a person reads it: 6 decimals (Huntington-Hill's is stored squared)."""
    if value is None:
        return None
    if value == math.inf:
        return "inf"
    if method == "huntington-hill":
        return f"{math.sqrt(value):.6f}"
    return f"{float(value):.6f}"


def default_seed(members: Mapping[str, int]) -> str:
    canonical = ";".join(f"{code}={members[code]}" for code in sorted(members))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def lot_rank(seed: str, section: str) -> str:
    return hashlib.sha256(f"{seed}:{section}".encode()).hexdigest()


def apportion(
    members: Mapping[str, int],
    seats: int,
    method: str,
    minimum: int = 1,
    seed: str | None = None,
) -> Apportionment:
    """Share `seats` among the sections in `members` (section code -> members)."""
    _check(members, seats, method, minimum)
    seed = seed or default_seed(members)
    if method == "hamilton":
        held, priority, ties = _hamilton(members, seats, minimum, seed)
    else:
        held, priority, ties = _divisor(members, seats, method, minimum, seed)
    allocations = tuple(
        Allocation(section=code, members=members[code], seats=held[code], priority=priority.get(code))
        for code in sorted(members)
    )
    return Apportionment(method, seats, minimum, seed, allocations, tuple(ties))


def _check(members: Mapping[str, int], seats: int, method: str, minimum: int) -> None:
    if method not in METHODS:
        raise ApportionmentError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not members:
        raise ApportionmentError("there are no sections to share seats among")
    if seats < 0 or minimum < 0:
        raise ApportionmentError("seats and the minimum cannot be negative")
    for code, count in members.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ApportionmentError(f"section {code!r}: members must be a whole number of at least 0")
    if minimum * len(members) > seats:
        raise ApportionmentError(
            f"{len(members)} sections with a minimum of {minimum} need {minimum * len(members)} seats, "
            f"more than the {seats} to share"
        )


def _divisor_priority(method: str, members: int, held: int) -> Fraction | float:
    if method == "dhondt":
        return Fraction(members, held + 1)
    if method == "sainte-lague":
        return Fraction(2 * members, 2 * held + 1)
    if held == 0:  # Huntington-Hill: d(0) = 0, so every section without a seat comes first, level
        return math.inf if members > 0 else Fraction(0)
    return Fraction(members * members, held * (held + 1))


def _approx(value: Fraction | float) -> float:
    return float(value)


def _divisor(
    members: Mapping[str, int], seats: int, method: str, minimum: int, seed: str
) -> tuple[dict[str, int], dict[str, Fraction | float], list[Tie]]:
    held = dict.fromkeys(members, minimum)
    won_with: dict[str, Fraction | float] = {}
    ties: list[Tie] = []
    left = seats - minimum * len(members)
    # A heap of float approximations finds the front-runners fast; exact values decide.
    heap = []
    for code in members:
        priority = _divisor_priority(method, members[code], held[code])
        heap.append((-_approx(priority), code, priority))
    heapq.heapify(heap)
    while left > 0:
        top = heap[0][0]
        group = []
        # Everything within a hair of the top float might be exactly equal to the best.
        while heap and (heap[0][0] == top or _close(heap[0][0], top)):
            group.append(heapq.heappop(heap))
        best = max(entry[2] for entry in group)
        level = sorted((entry for entry in group if entry[2] == best), key=lambda e: lot_rank(seed, e[1]))
        for entry in group:
            if entry[2] != best:
                heapq.heappush(heap, entry)
        winners = level[:left]
        if len(level) > left:
            ties.append(
                Tie(
                    value=best,
                    sections=tuple(e[1] for e in level),
                    seats=left,
                    winners=tuple(e[1] for e in winners),
                )
            )
            for entry in level[left:]:
                heapq.heappush(heap, entry)
        for _, code, priority in winners:
            held[code] += 1
            won_with[code] = priority
            following = _divisor_priority(method, members[code], held[code])
            heapq.heappush(heap, (-_approx(following), code, following))
        left -= len(winners)
    return held, won_with, ties


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


def _hamilton(
    members: Mapping[str, int], seats: int, minimum: int, seed: str
) -> tuple[dict[str, int], dict[str, Fraction | float], list[Tie]]:
    held: dict[str, int] = {}
    sharing = dict(members)
    to_share = seats
    # Sections whose exact quota falls short of the minimum take the minimum and step aside.
    while True:
        total = sum(sharing.values())
        short = [c for c in sharing if minimum and (total == 0 or Fraction(sharing[c] * to_share, total) < minimum)]
        if not short or len(short) == len(sharing):
            break
        for code in short:
            held[code] = minimum
            to_share -= minimum
            del sharing[code]
    total = sum(sharing.values())
    quotas = {
        c: (Fraction(sharing[c] * to_share, total) if total else Fraction(to_share, len(sharing))) for c in sharing
    }
    for code, quota in quotas.items():
        held[code] = max(math.floor(quota), minimum)
    left = seats - sum(held.values())
    ties: list[Tie] = []
    ranked = sorted(sharing, key=lambda c: (-(quotas[c] - math.floor(quotas[c])), lot_rank(seed, c)))
    if left > 0:
        cut = quotas[ranked[left - 1]] - math.floor(quotas[ranked[left - 1]])
        level = [c for c in ranked if quotas[c] - math.floor(quotas[c]) == cut]
        already = [c for c in ranked[:left] if c not in level]
        room = left - len(already)
        if len(level) > room:
            ties.append(Tie(value=cut, sections=tuple(level), seats=room, winners=tuple(level[:room])))
        for code in ranked[:left]:
            held[code] += 1
    priority: dict[str, Fraction | float] = {c: quotas[c] for c in sharing}
    for code in members:
        if code not in sharing:
            priority[code] = Fraction(members[code] * seats, sum(members.values()) or 1)
    return held, priority, ties


def summary(result: Apportionment) -> dict:
    """The shape `congress count apportion --json` prints (spec section 4), plain JSON values."""
    return {
        "method": result.method,
        "seats": result.seats,
        "allocations": {a.section: a.seats for a in result.allocations},
        "ties": [
            {
                "sections": list(tie.sections),
                "seats": tie.seats,
                "winners": list(tie.winners),
                "at": format_priority(tie.value, result.method if result.method != "hamilton" else "remainder"),
                "resolved_by": tie.resolved_by,
                "seed": result.seed,
            }
            for tie in result.ties
        ],
    }
