"""Deciding a motion: the tally, the majority rule and the quorum (spec section 5).

Plain integers, no framework. A ballot counts only if participation reaches the quorum; the
result always says which rule and quorum applied and whether each was met.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CHOICES = ("yes", "no", "abstain")
MAJORITY_RULES = ("simple", "two_thirds", "absolute")


class CountingError(ValueError):
    pass


@dataclass(frozen=True)
class Tally:
    yes: int = 0
    no: int = 0
    abstain: int = 0

    @property
    def cast(self) -> int:
        return self.yes + self.no + self.abstain


def tally(choices: Iterable[str]) -> Tally:
    counts = dict.fromkeys(CHOICES, 0)
    for choice in choices:
        if choice not in counts:
            raise CountingError(f"not a choice on a motion: {choice!r}")
        counts[choice] += 1
    return Tally(**counts)


def default_quorum(voting_members: int) -> int:
    """More than half the body's voting members."""
    return voting_members // 2 + 1


@dataclass(frozen=True)
class Decision:
    adopted: bool
    rule: str
    rule_met: bool
    quorum: int
    quorum_met: bool
    electorate: int
    tally: Tally

    @property
    def outcome(self) -> str:
        if not self.quorum_met:
            return "no_quorum"
        return "adopted" if self.adopted else "rejected"


def majority_met(rule: str, counted: Tally, electorate: int) -> bool:
    if rule == "simple":
        return counted.yes > counted.no
    if rule == "two_thirds":
        # yes ≥ 2/3 of yes+no, in integers; nobody for or against adopts nothing.
        return counted.yes > 0 and 3 * counted.yes >= 2 * (counted.yes + counted.no)
    if rule == "absolute":
        return 2 * counted.yes > electorate
    raise CountingError(f"unknown majority rule {rule!r}; choose one of {', '.join(MAJORITY_RULES)}")


def decide(counted: Tally, rule: str, electorate: int, quorum: int | None = None) -> Decision:
    """Apply the quorum, then the majority rule. Abstentions count towards the quorum only."""
    if electorate < 0:
        raise CountingError("the electorate cannot be negative")
    needed = default_quorum(electorate) if quorum is None else quorum
    quorum_met = counted.cast >= needed
    rule_met = majority_met(rule, counted, electorate)
    return Decision(
        adopted=quorum_met and rule_met,
        rule=rule,
        rule_met=rule_met,
        quorum=needed,
        quorum_met=quorum_met,
        electorate=electorate,
        tally=counted,
    )
