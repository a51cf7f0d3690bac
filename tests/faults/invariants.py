"""The one invariant every fault test checks after recovery, and the figures it reports.

Pure: it judges evidence the harness collected (what clients were told, the close's answer,
the published record, the outbox window, what the outside subscriber received), so a test of
the test can hand it doctored evidence and see it fail.

- every vote acknowledged with a receipt is in the published record (with the choice voted)
  and in the close's tally; none is there twice;
- no voter who was refused (a refusal with no lost answer before it) is counted;
- every event committed in the window reaches the outside subscriber, exactly once after
  dedupe by event_id, in outbox order per producer;
- the outboxes drain; the ballot is closed (nothing left open or stuck);
- clients saw no 5xx (a 503 carrying Retry-After is allowed where the test says so).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.load import LoadResult
from tests.faults.subscriber import Arrival


@dataclass(frozen=True)
class Committed:
    position: int
    event_id: str
    type: str


@dataclass
class Evidence:
    fault: str
    seed: int
    load: LoadResult
    close_answer: dict[str, Any] | None
    record: dict[str, Any] | None
    ballot_status: str | None
    committed: dict[str, list[Committed]]  # producer -> the window of its outbox, by position
    arrivals: dict[str, list[Arrival]]  # producer -> what the outside subscriber received, in order
    undrained: dict[str, int]  # service -> outbox rows never published
    allow_503_with_retry_after: bool = False
    recovery_s: float | None = None


@dataclass
class Figures:
    fault: str
    seed: int
    voters: int = 0
    acknowledged: int = 0
    counted: int = 0
    lost: int = 0
    doubled: int = 0
    altered: int = 0
    refused: int = 0
    refused_counted: int = 0
    ambiguous: int = 0
    gave_up: int = 0
    unacknowledged_counted: int = 0
    events: int = 0
    events_seen: int = 0
    duplicates_dropped: int = 0
    events_lost: int = 0
    out_of_order: int = 0
    undrained: int = 0
    stuck: int = 0
    http_5xx: int = 0
    http_503_retry_after: int = 0
    client_timeouts: int = 0
    clients_saw: dict[str, int] = field(default_factory=dict)  # every answer but a 201, by status
    recovery_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    figures: Figures
    violations: list[str]

    @property
    def holds(self) -> bool:
        return not self.violations

    def line(self) -> str:
        f = self.figures
        recovery = "—" if f.recovery_s is None else f"{f.recovery_s:.1f}s"
        extra = "".join(f" {k}={v}" for k, v in f.extra.items())
        return (
            f"FAULT {f.fault} seed={f.seed}: acknowledged={f.acknowledged}/{f.voters} counted={f.counted} "
            f"lost={f.lost} doubled={f.doubled} altered={f.altered} refused={f.refused} "
            f"refused_counted={f.refused_counted} ambiguous={f.ambiguous} gave_up={f.gave_up} "
            f"events={f.events} seen={f.events_seen} duplicates_dropped={f.duplicates_dropped} "
            f"events_lost={f.events_lost} out_of_order={f.out_of_order} undrained={f.undrained} stuck={f.stuck} "
            f"5xx={f.http_5xx} 503+Retry-After={f.http_503_retry_after} client_timeouts={f.client_timeouts} "
            f"clients_saw={_saw(f.clients_saw)} recovery={recovery}{extra} -> {'HOLDS' if self.holds else 'VIOLATED'}"
        )


def _saw(answers: dict[str, int]) -> str:
    return ",".join(f"{n}x{status}" for status, n in answers.items()) or "nothing-else"


def check(evidence: Evidence) -> Verdict:
    figures = Figures(fault=evidence.fault, seed=evidence.seed, recovery_s=evidence.recovery_s)
    violations: list[str] = []
    voters = evidence.load.voters
    figures.voters = len(voters)
    acknowledged = {v.member_id: v for v in voters if v.receipt}
    figures.acknowledged = len(acknowledged)
    refused = {v.member_id for v in voters if v.outcome == "refused" and not v.ambiguous}
    figures.refused = len(refused)
    figures.ambiguous = sum(1 for v in voters if v.ambiguous)
    figures.gave_up = sum(1 for v in voters if v.outcome == "gave_up")

    # Votes: the record, the close's tally
    record = evidence.record
    if record is None:
        violations.append("no published record: the ballot was never closed")
        figures.lost = figures.acknowledged
    else:
        ballots = record.get("ballots") or []
        participants = record.get("participants") or []
        receipts = Counter(b.get("receipt") for b in ballots)
        members = Counter(p.get("member_id") for p in participants)
        figures.doubled = sum(n - 1 for n in receipts.values() if n > 1) + sum(n - 1 for n in members.values() if n > 1)
        choice_of = {b.get("receipt"): b.get("choice") for b in ballots}
        lost = [v for v in acknowledged.values() if v.receipt not in receipts]
        altered = [v for v in acknowledged.values() if v.receipt in receipts and choice_of[v.receipt] != v.choice]
        figures.lost, figures.altered = len(lost), len(altered)
        figures.counted = figures.acknowledged - figures.lost
        if lost:
            violations.append(f"{len(lost)} acknowledged vote(s) missing from the record, e.g. {lost[0].member_id}")
        if altered:
            violations.append(f"{len(altered)} acknowledged vote(s) counted with another choice")
        if figures.doubled:
            violations.append(f"{figures.doubled} receipt(s) or member(s) twice in the record")
        if len(ballots) != len(participants):
            violations.append(f"{len(ballots)} ballots but {len(participants)} participants in the record")
        counted_members = set(members)
        refused_counted = refused & counted_members
        figures.refused_counted = len(refused_counted)
        if refused_counted:
            violations.append(f"{len(refused_counted)} refused voter(s) counted")
        missing_members = set(acknowledged) - counted_members
        if missing_members:
            violations.append(f"{len(missing_members)} acknowledged voter(s) not among the participants")
        figures.unacknowledged_counted = len(counted_members - set(acknowledged))
        tally = Counter(choice_of[r] for r in receipts.elements() if r in choice_of)
        answered = ((evidence.close_answer or {}).get("result") or {}).get("tally")
        published = (record.get("result") or {}).get("tally")
        for name, said in (("the close's answer", answered), ("the record's result", published)):
            if said is None:
                violations.append(f"{name} carries no tally")
            elif {k: int(n) for k, n in said.items() if n} != {k: n for k, n in tally.items() if n}:
                violations.append(f"{name} tally {said} is not the count of the record's ballots {dict(tally)}")
        cast = (evidence.close_answer or {}).get("votes_cast")
        if cast is not None and cast != len(ballots):
            violations.append(f"the close answered votes_cast={cast}, the record holds {len(ballots)} ballots")

    if evidence.ballot_status != "closed":
        figures.stuck = 1
        violations.append(f"the ballot is left {evidence.ballot_status!r}")

    # Events: every committed one reaches the outside subscriber once after dedupe, in order
    for producer, committed in evidence.committed.items():
        position = {c.event_id: c.position for c in committed}
        arrived = [a for a in evidence.arrivals.get(producer, []) if a.event_id in position]
        first_seen: list[int] = []
        unique: set[str] = set()
        for arrival in arrived:
            if arrival.event_id in unique:
                continue
            unique.add(arrival.event_id)
            first_seen.append(position[arrival.event_id])
        disorder = sum(1 for a, b in itertools.pairwise(first_seen) if b < a)
        missing = len(position) - len(unique)
        figures.events += len(position)
        figures.events_seen += len(unique)
        figures.duplicates_dropped += len(arrived) - len(unique)
        figures.events_lost += missing
        figures.out_of_order += disorder
        if missing:
            example = next(c for c in committed if c.event_id not in unique)
            violations.append(f"{missing} committed {producer} event(s) never reached the subscriber, e.g. {example}")
        if disorder:
            violations.append(f"{disorder} {producer} event(s) arrived out of outbox order")
    figures.undrained = sum(evidence.undrained.values())
    if figures.undrained:
        violations.append(f"outbox rows never published: {evidence.undrained}")

    # What clients saw
    for attempt in evidence.load.attempts:
        if attempt.status is None or attempt.status < 500:
            continue
        if evidence.allow_503_with_retry_after and attempt.status == 503 and attempt.retry_after:
            figures.http_503_retry_after += 1
        else:
            figures.http_5xx += 1
    figures.client_timeouts = len(evidence.load.client_timeouts())
    figures.clients_saw = dict(
        Counter(str(a.status or a.error) for a in evidence.load.attempts if a.status != 201).most_common()
    )
    if figures.http_5xx:
        statuses = Counter(a.status for a in evidence.load.server_errors())
        violations.append(f"clients saw {figures.http_5xx} 5xx answer(s): {dict(statuses)}")
    return Verdict(figures, violations)


# The results of the run, for the README's table

RESULTS_DIR = Path(os.environ.get("FAULTS_RESULTS_DIR") or Path(__file__).resolve().parents[2] / "var" / "faults")


REPORTED: list[str] = []  # this session's lines, repeated in pytest's terminal summary


def stack_dir(name: str) -> Path:
    """Where a stack of this run keeps its logs (var/faults/stacks/<name>/log): kept after the
    run for the root causes, unlike pytest's rotating temporary folders."""
    folder = RESULTS_DIR / "stacks" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def reset_results() -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RESULTS_DIR / "stacks", ignore_errors=True)
    (RESULTS_DIR / "last-run.json").write_text(json.dumps({"started": time.time(), "results": []}, indent=1))
    (RESULTS_DIR / "last-run.md").unlink(missing_ok=True)


def report(verdict: Verdict) -> None:
    """Print the test's one line and add it to var/faults/last-run.{json,md}."""
    print("\n" + verdict.line(), flush=True)
    REPORTED.append(verdict.line())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "last-run.json"
    try:
        run = json.loads(path.read_text())
    except (OSError, ValueError):
        run = {"started": time.time(), "results": []}
    run["results"].append({**asdict(verdict.figures), "holds": verdict.holds, "violations": verdict.violations})
    path.write_text(json.dumps(run, indent=1, default=str))
    (RESULTS_DIR / "last-run.md").write_text(markdown_table(run["results"]))


def markdown_table(results: list[dict[str, Any]]) -> str:
    head = (
        "| fault | seed | acknowledged | counted | lost | doubled | refused (counted) | events seen / committed "
        "| duplicates dropped | events lost | what clients saw | recovery | verdict |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        recovery = "—" if r.get("recovery_s") is None else f"{r['recovery_s']:.1f} s"
        saw = ", ".join(f"{n} × {'HTTP ' + s if s.isdigit() else s}" for s, n in r.get("clients_saw", {}).items())
        verdict = "holds" if r["holds"] else "**violated**: " + "; ".join(r["violations"])
        rows.append(
            f"| {r['fault']} | {r['seed']} | {r['acknowledged']}/{r['voters']} | {r['counted']} | {r['lost']} "
            f"| {r['doubled']} | {r['refused']} ({r['refused_counted']}) | {r['events_seen']}/{r['events']} "
            f"| {r['duplicates_dropped']} | {r['events_lost']} | {saw or 'nothing else'} | {recovery} "
            f"| {verdict.replace('|', '/')} |"
        )
    return head + "\n".join(rows) + "\n"
