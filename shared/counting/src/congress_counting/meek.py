"""Meek's method: Hill, Wichmann & Woodall, "Algorithm 123 - Single transferable vote by Meek's
method" (Computer Journal 30(3), 1987), with the fixed-point precision of the New Zealand rules
(Local Electoral Regulations 2001, Schedule 1A).

Every candidate has a keep value: 1 while hopeful, 0 once excluded, and for an elected candidate
the share of each vote reaching them that they keep. Each ballot starts with a value of 1 and
passes down its ranking: each candidate keeps value x keep value (to 9 decimal places, rounded
up) and passes on the rest (so what passes on is truncated); a hopeful candidate keeps it all.
What is left after the last preference is non-transferable.

- Quota: (valid votes - non-transferable) / (seats + 1), truncated to 9 decimal places, plus
  0.000000001; recomputed at every iteration.
- Iteration: elected candidates' keep values become keep value x quota (rounded up) / votes
  (rounded up), both to 9 decimal places, until every elected candidate's votes are within
  0.00001 of the quota (as a fraction of it: |votes - quota| <= quota / 100000).
- Then every hopeful candidate whose votes reach the quota is elected; if none does, the
  hopeful candidate with the fewest votes is excluded (keep value 0). Ties go to the earlier
  rounds, then to the lot (see `stv.choose`). One round is recorded per such stage.
- When the hopeful candidates are no more than the seats left, they are all elected.

All values are integers in units of 0.000000001. Only the start of each ballot matters in an
iteration: the elected candidates it meets before its first hopeful one (who keeps the rest).
So ballots are grouped by that path, paths share their common beginnings in a tree, and an
iteration walks the tree once instead of every ballot.
"""

from __future__ import annotations

from congress_counting.stv import ElectionResult, Profile, Round, choose, fixed, order_by_votes, plural

PLACES = 9
UNIT = 10**PLACES
TOLERANCE = 100_000  # converged when |votes - quota| * TOLERANCE <= quota, i.e. within 0.00001 of it
MAX_ITERATIONS = 10_000  # a guard: fixed-point iteration stalls long before this (see `_iterate`)
HOPEFUL, ELECTED, EXCLUDED = 0, 1, 2
EXHAUSTED = -1


class _Paths:
    """Ballots grouped by their path: (elected candidates met in order, then the first hopeful one).

    A group of identical rankings moves along its ranking only when the candidate it stops at is
    elected or excluded, so keeping the paths up to date costs the ballots' length once per count.
    """

    def __init__(self, profile: Profile, state: list[int]) -> None:
        self.state = state
        self.groups = [[ranking, weight, 0, ()] for ranking, weight in profile.groups]  # ranking, weight, at, path
        self.stopped_at: dict[int, list[int]] = {}  # candidate -> groups whose first hopeful is them
        self.totals: dict[tuple[int, ...], dict[int, int]] = {}  # path -> {first hopeful or EXHAUSTED: ballots}
        for number, (ranking, weight, _, _) in enumerate(self.groups):
            self._add(number, (), ranking[0], weight)

    def _add(self, number: int, path: tuple[int, ...], stop: int, weight: int) -> None:
        bucket = self.totals.setdefault(path, {})
        bucket[stop] = bucket.get(stop, 0) + weight
        if stop != EXHAUSTED:
            self.stopped_at.setdefault(stop, []).append(number)

    def changed(self, candidate: int) -> None:
        """`candidate` was elected or excluded: move on the ballots that stopped at them."""
        state = self.state
        for number in self.stopped_at.pop(candidate, ()):
            group = self.groups[number]
            ranking, weight, at, path = group
            bucket = self.totals[path]
            bucket[candidate] -= weight
            if not bucket[candidate]:
                del bucket[candidate]
                if not bucket:
                    del self.totals[path]
            if state[candidate] == ELECTED:
                path = (*path, candidate)
            at += 1
            while at < len(ranking) and state[ranking[at]] != HOPEFUL:
                if state[ranking[at]] == ELECTED:
                    path = (*path, ranking[at])
                at += 1
            stop = ranking[at] if at < len(ranking) else EXHAUSTED
            group[2], group[3] = at, path
            self._add(number, path, stop, weight)

    def tree(self) -> _Tree:
        return _Tree(self.totals)


class _Tree:
    """The paths as a tree of nodes, parents before children, for one stage of the count."""

    def __init__(self, totals: dict[tuple[int, ...], dict[int, int]]) -> None:
        index: dict[tuple[int, ...], int] = {(): 0}
        paths: list[tuple[int, ...]] = [()]
        for path in totals:
            for size in range(1, len(path) + 1):
                prefix = path[:size]
                if prefix not in index:
                    index[prefix] = len(paths)
                    paths.append(prefix)
        order = sorted(range(len(paths)), key=lambda i: len(paths[i]))  # parents first
        position = {paths[i]: k for k, i in enumerate(order)}
        self.size = len(order)
        self.parent = [0] * self.size
        self.candidate = [0] * self.size
        self.through = [0] * self.size  # ballots passing through the node (keeping a share there)
        self.exhausted: list[tuple[int, int]] = []  # (node, ballots whose value runs out there)
        self.stops: list[tuple[int, int, int]] = []  # (node, hopeful candidate, ballots stopping there)
        for k, i in enumerate(order):
            path = paths[i]
            if path:
                self.parent[k] = position[path[:-1]]
                self.candidate[k] = path[-1]
        for path, bucket in totals.items():
            node = position[path]
            weight = sum(bucket.values())
            walk = node
            while walk:
                self.through[walk] += weight
                walk = self.parent[walk]
            for stop, ballots in bucket.items():
                if stop == EXHAUSTED:
                    self.exhausted.append((node, ballots))
                else:
                    self.stops.append((node, stop, ballots))

    def distribute(self, keep: list[int], votes: list[int]) -> tuple[list[int], int]:
        """One pass: the value left at each node and the non-transferable total; adds elected votes."""
        parent, candidate, through = self.parent, self.candidate, self.through
        left = [0] * self.size
        left[0] = UNIT
        for node in range(1, self.size):
            arriving = left[parent[node]]
            who = candidate[node]
            kept = -(-arriving * keep[who] // UNIT)  # rounded up
            left[node] = arriving - kept
            votes[who] += kept * through[node]
        return left, sum(left[node] * ballots for node, ballots in self.exhausted)


def count(profile: Profile, seats: int, seed: str) -> ElectionResult:
    names = profile.names
    n = len(names)
    valid = sum(weight for _, weight in profile.groups)
    total = valid * UNIT
    state = [HOPEFUL] * n
    keep = [UNIT] * n
    paths = _Paths(profile, state)
    elected: list[int] = []
    rounds: list[Round] = []
    history: list[tuple[int, list[int]]] = []
    quota = 0

    def show(value: int) -> str:
        return fixed(value, PLACES)

    def mark(chosen: list[int]) -> None:
        for c in chosen:
            state[c] = ELECTED
            elected.append(c)
            paths.changed(c)

    while True:
        number = len(rounds) + 1
        tree = paths.tree()
        votes, exhausted, quota, iterations, how = _iterate(tree, keep, elected, n, total, seats)
        note = [profile.preamble] if number == 1 and profile.preamble else []
        if number == 1:
            note.append(
                f"First preferences: {valid} valid votes; quota {show(quota)} = {valid}/{seats + 1} "
                f"(to 9 decimal places) + 0.000000001."
            )
        else:
            note.append(f"{plural(iterations, 'iteration')} of the keep values ({how}); quota {show(quota)}.")
        hopeful = [c for c in range(n) if state[c] == HOPEFUL]
        reached = [c for c in hopeful if votes[c] >= quota]
        newly: list[int] = []
        excluded: tuple[int, ...] = ()
        if reached:
            ordered, ties = order_by_votes(reached, votes, history, names, seed, PLACES)
            ordered = ordered[: seats - len(elected)]  # cannot happen with this quota; kept as a guard
            note.extend(ties)
            note.append(
                "; ".join(f"{names[c]} elected ({show(votes[c])} ≥ quota {show(quota)})" for c in ordered) + "."
            )
            mark(ordered)
            newly.extend(ordered)
        elif len(hopeful) > seats - len(elected):
            chosen, tie = choose(hopeful, votes, history, names, seed, lowest=True, show=PLACES, what="for exclusion")
            if tie:
                note.append(tie)
            note.append(f"{names[chosen]} excluded (lowest, {show(votes[chosen])}); keep value 0.")
            state[chosen] = EXCLUDED
            keep[chosen] = 0
            paths.changed(chosen)
            excluded = (chosen,)
        left = seats - len(elected)
        hopeful = [c for c in range(n) if state[c] == HOPEFUL]
        if left > 0 and len(hopeful) <= left:
            ordered, ties = order_by_votes(hopeful, votes, history, names, seed, PLACES)
            note.extend(ties)
            if ordered:
                note.append(
                    f"{plural(len(ordered), 'continuing candidate')} for {plural(left, 'seat')} left: "
                    f"{', '.join(names[c] for c in ordered)} elected."
                )
            if left > len(ordered):
                note.append(f"Fewer candidates than seats: {plural(left - len(ordered), 'seat')} left unfilled.")
            mark(ordered)
            newly.extend(ordered)
        rounds.append(
            Round(
                number=number,
                votes={names[c]: show(votes[c]) for c in range(n)},
                exhausted=show(exhausted),
                elected=tuple(names[c] for c in newly),
                excluded=tuple(names[c] for c in excluded),
                quota=show(quota),
                note=" ".join(note),
            )
        )
        history.append((number, votes))
        if len(elected) >= seats or not any(s == HOPEFUL for s in state):
            break

    return ElectionResult(
        method="meek",
        seats=seats,
        quota=show(quota),
        elected=tuple(names[c] for c in elected),
        rounds=tuple(rounds),
        seed=seed,
    )


def _iterate(
    tree: _Tree, keep: list[int], elected: list[int], n: int, total: int, seats: int
) -> tuple[list[int], int, int, int, str]:
    """Adjust the elected candidates' keep values until their votes are within tolerance of the quota.

    Returns every candidate's votes, the non-transferable total, the quota, the number of
    iterations and why it stopped. Updates `keep` in place.
    """
    iterations = 0
    last_surplus: int | None = None
    while True:
        iterations += 1
        votes = [0] * n
        left, exhausted = tree.distribute(keep, votes)
        quota = (total - exhausted) // (seats + 1) + 1
        if not elected:
            how = "no one elected yet"
            break
        if all(abs(votes[e] - quota) * TOLERANCE <= quota for e in elected):
            how = "every elected candidate within 0.00001 of the quota"
            break
        surplus = sum(votes[e] - quota for e in elected)
        if last_surplus is not None and surplus >= last_surplus:
            # At 9 decimal places the surplus can stop shrinking before the tolerance is met.
            how = f"stopped: the surplus stopped falling at {fixed(surplus, PLACES)}"
            break
        if iterations >= MAX_ITERATIONS:  # pragma: no cover - the stall test above ends it first
            how = f"stopped after {MAX_ITERATIONS} iterations"
            break
        last_surplus = surplus
        for e in elected:
            if votes[e]:
                scaled = -(-keep[e] * quota // UNIT)  # rounded up
                keep[e] = min(UNIT, -(-scaled * UNIT // votes[e]))  # rounded up
    for node, candidate, ballots in tree.stops:
        votes[candidate] += left[node] * ballots
    return votes, exhausted, quota, iterations, how
