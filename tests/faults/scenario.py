"""One fault test's course: a fresh ballot in the module's congress, the hall voting, a fault
injected at a seeded moment, the close, then the evidence judged by the invariant checker."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.faults.harness import FaultStack, HealthSampler, env_float
from tests.faults.invariants import Verdict, check, report
from tests.faults.load import LoadResult, VoteLoad
from tests.support.congress import Congress, table_and_open


@dataclass
class Run:
    """What a fault injector gets: the stack, the running load, the seeded rng; what it leaves:
    the recovery time, the close's answer if it closed, and its own findings."""

    stack: FaultStack
    load: VoteLoad
    rng: random.Random
    ballot_id: str
    voters: int
    health: HealthSampler
    recovery_s: float | None = None
    close_answer: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)

    def wait_fraction(self, fraction: float, timeout: float = 120.0) -> int:
        """Block until `fraction` of the voters are acknowledged (a barrier, not a sleep)."""
        target = max(1, int(self.voters * fraction))
        if not self.load.wait_acknowledged(target, timeout):
            self.findings.append(
                f"the load never reached {target} acknowledged votes (at {self.load.acknowledged_count()})"
            )
        return self.load.acknowledged_count()


def run_under_fault(
    stack: FaultStack,
    congress: Congress,
    fault: str,
    seed: int,
    inject: Callable[[Run], None],
    *,
    allow_503: bool = False,
    voter_budget: float = 90.0,
    rate: float | None = None,
    judge: Callable[[Run, LoadResult], list[str]] | None = None,
) -> tuple[Verdict, Run, LoadResult]:
    """`inject` runs while the hall votes; `judge`, after the close, returns the fault's own
    broken promises, which join the invariant's in the reported line."""
    rng = random.Random(seed)
    _, ballot = table_and_open(stack, congress.body_id)
    heads = stack.outbox_heads()
    deaths_before = len(stack.deaths)
    health = HealthSampler(stack.url).start()
    load = VoteLoad(
        stack.url,
        ballot["id"],
        congress.delegates,
        rng,
        rate=rate or env_float("FAULTS_RATE", 40.0),
        client_timeout=env_float("FAULTS_CLIENT_TIMEOUT", 15.0),
        voter_budget=voter_budget,
    )
    run = Run(stack, load, rng, ballot["id"], len(congress.delegates), health)
    load.start()
    try:
        inject(run)
    except Exception as exc:  # the injector's own failure is a finding, the checks still run
        run.findings.append(f"fault injection failed: {type(exc).__name__}: {exc}")
    result = load.wait()
    if run.close_answer is None:
        status, answer = stack.close_ballot(ballot["id"], within=90 if stack.alive("voting") else 15)
        run.close_answer = answer if status == 200 else None
        if status != 200:
            run.findings.append(f"the close answered {status}: {answer}")
    health.stop()
    evidence = stack.collect(
        fault, seed, result, ballot["id"], heads, run.close_answer, recovery_s=run.recovery_s, allow_503=allow_503
    )
    verdict = check(evidence)
    died = stack.deaths[deaths_before:]
    if died:
        verdict.violations.append(
            "process(es) died by themselves: " + ", ".join(f"{d.key} (exit {d.returncode})" for d in died)
        )
    missed = [s for s in health.samples if s.status is None]
    run.extra.setdefault("health_unanswered", f"{len(missed)}/{len(health.samples)}")
    verdict.violations.extend(run.findings)
    if judge is not None:
        verdict.violations.extend(judge(run, result))
    verdict.figures.extra.update(run.extra)
    report(verdict)
    return verdict, run, result
