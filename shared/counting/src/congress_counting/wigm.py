"""Weighted inclusive Gregory: the Scottish local-government STV rules (SSI 2007/42, rules 45-52).

- Quota (Droop): floor(valid votes / (seats + 1)) + 1, a whole number.
- A candidate whose votes reach the quota is elected. Surpluses are transferred one at a time,
  the largest first; a candidate who reaches the quota during a transfer is elected and their
  surplus waits its turn, by size, at the next stage.
- A surplus goes on every paper the candidate holds (inclusive): each paper's new value is
  surplus x its value / the candidate's total, calculated to 5 decimal places with any remainder
  ignored (truncated, as rule 48(3) says). Papers with no further continuing preference are
  non-transferable. The candidate keeps the quota.
- With no surplus to transfer, the candidate with the fewest votes is excluded and all their
  papers go on at the values they carry.
- Ties (equal lowest for exclusion, equal surpluses for order) go to the most recent earlier
  stage where the tied candidates differed, then to the lot (see `stv.choose`).
- When the continuing candidates are no more than the seats left, they are all elected.

Values are integers in units of 0.00001, so every figure is exact. Papers with identical
rankings travel together (they always sit with the same candidate at the same value), so the
count works on groups of papers, not single ones.
"""

from __future__ import annotations

from congress_counting.stv import ElectionResult, Profile, Round, choose, fixed, order_by_votes, plural

PLACES = 5
UNIT = 10**PLACES
HOPEFUL, ELECTED, EXCLUDED = 0, 1, 2


def count(profile: Profile, seats: int, seed: str) -> ElectionResult:
    names = profile.names
    n = len(names)
    valid = sum(weight for _, weight in profile.groups)
    quota = (valid // (seats + 1) + 1) * UNIT
    state = [HOPEFUL] * n
    votes = [0] * n
    # Each candidate's papers: (ranking, how many, value of each, position of this candidate in the ranking).
    piles: list[list[tuple[tuple[int, ...], int, int, int]]] = [[] for _ in range(n)]
    for ranking, weight in profile.groups:
        piles[ranking[0]].append((ranking, weight, UNIT, 0))
        votes[ranking[0]] += weight * UNIT
    elected: list[int] = []
    transferred: set[int] = set()  # elected candidates whose surplus has gone on
    rounds: list[Round] = []
    history: list[tuple[int, list[int]]] = []  # each round's totals, for tie-breaks

    def show(value: int) -> str:
        return fixed(value, PLACES)

    def move(papers: list[tuple[tuple[int, ...], int, int, int]], numerator: int, denominator: int) -> None:
        """Send papers to their next continuing preference at value x numerator / denominator, truncated."""
        for ranking, weight, value, at in papers:
            new_value = value * numerator // denominator
            if new_value == 0:
                continue  # worth nothing wherever it goes: counts as non-transferable
            for position in range(at + 1, len(ranking)):
                nxt = ranking[position]
                if state[nxt] == HOPEFUL:
                    piles[nxt].append((ranking, weight, new_value, position))
                    votes[nxt] += weight * new_value
                    break

    def close_round(note: list[str], excluded: tuple[int, ...]) -> None:
        """Elect whoever reached the quota, or everyone left if they no more than fill the seats; record."""
        number = len(rounds) + 1
        earlier = history  # the rounds before this one
        reached = [c for c in range(n) if state[c] == HOPEFUL and votes[c] >= quota]
        newly: list[int] = []
        if reached:
            ordered, ties = order_by_votes(reached, votes, earlier, names, seed, PLACES)
            ordered = ordered[: seats - len(elected)]  # cannot happen with a Droop quota; kept as a guard
            note.extend(ties)
            note.append(
                "; ".join(f"{names[c]} elected ({show(votes[c])} ≥ quota {show(quota)})" for c in ordered) + "."
            )
            newly.extend(ordered)
            for c in ordered:
                state[c] = ELECTED
                elected.append(c)
        left = seats - len(elected)
        continuing = [c for c in range(n) if state[c] == HOPEFUL]
        if left > 0 and len(continuing) <= left:
            ordered, ties = order_by_votes(continuing, votes, earlier, names, seed, PLACES)
            note.extend(ties)
            if ordered:
                note.append(
                    f"{plural(len(ordered), 'continuing candidate')} for {plural(left, 'seat')} left: "
                    f"{', '.join(names[c] for c in ordered)} elected."
                )
            unfilled = left - len(ordered)
            if unfilled:
                note.append(f"Fewer candidates than seats: {plural(unfilled, 'seat')} left unfilled.")
            for c in ordered:
                state[c] = ELECTED
                elected.append(c)
            newly.extend(ordered)
        exhausted = valid * UNIT - sum(votes)
        rounds.append(
            Round(
                number=number,
                votes={names[c]: show(votes[c]) for c in range(n)},
                exhausted=show(exhausted),
                elected=tuple(names[c] for c in newly),
                excluded=tuple(names[c] for c in excluded),
                quota=str(quota // UNIT),
                note=" ".join(note),
            )
        )
        history.append((number, list(votes)))

    opening = [profile.preamble] if profile.preamble else []
    opening.append(f"First preferences: {valid} valid votes; quota {quota // UNIT} = floor({valid}/{seats + 1}) + 1.")
    close_round(opening, ())

    while len(elected) < seats and any(s == HOPEFUL for s in state):
        earlier = history[:-1]  # the current totals are the last round's
        pending = [c for c in elected if c not in transferred and votes[c] > quota]
        if pending:
            # Surpluses are compared as surpluses; with one quota that is comparing totals.
            chosen, tie = choose(
                pending, votes, earlier, names, seed, lowest=False, show=PLACES, what="for the order of surpluses"
            )
            total = votes[chosen]
            surplus = total - quota
            papers, piles[chosen] = piles[chosen], []
            move(papers, surplus, total)
            votes[chosen] = quota
            transferred.add(chosen)
            note = [tie] if tie else []
            note.append(
                f"Surplus of {names[chosen]} ({show(surplus)}) transferred: every paper at "
                f"{show(surplus)}/{show(total)} of its value, truncated to {PLACES} decimal places."
            )
            close_round(note, ())
            continue
        continuing = [c for c in range(n) if state[c] == HOPEFUL]
        chosen, tie = choose(continuing, votes, earlier, names, seed, lowest=True, show=PLACES, what="for exclusion")
        note = [tie] if tie else []
        note.append(
            f"{names[chosen]} excluded (lowest, {show(votes[chosen])}); papers transferred at their current values."
        )
        papers, piles[chosen] = piles[chosen], []
        state[chosen] = EXCLUDED
        votes[chosen] = 0
        move(papers, 1, 1)
        close_round(note, (chosen,))

    return ElectionResult(
        method="wigm",
        seats=seats,
        quota=str(quota // UNIT),
        elected=tuple(names[c] for c in elected),
        rounds=tuple(rounds),
        seed=seed,
    )
