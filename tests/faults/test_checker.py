"""The test of the test: the invariant checker fails when a vote or an event is lost.

The unit tests hand the checker doctored evidence (they need no stack and also run in `make
test`); the fault-marked one runs a deliberately broken build (tests/faults/sabotage: voting
acknowledges one vote and never stores it) and the checker must catch it.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import invariants
from tests.faults.harness import FaultStack, fault_stack
from tests.faults.invariants import Committed, Evidence, check
from tests.faults.load import Attempt, LoadResult, Voter
from tests.faults.scenario import Run, run_under_fault
from tests.faults.subscriber import Arrival
from tests.support.congress import Congress, congress_in_session

SABOTAGE = Path(__file__).with_name("sabotage")


def _evidence(voters: int = 6) -> Evidence:
    rng = random.Random(7)
    people = [Voter(f"m{i}", "Bearer x", rng.choice(("yes", "no", "abstain"))) for i in range(voters)]
    for i, voter in enumerate(people):
        voter.receipt, voter.outcome = f"r{i:02d}", "acknowledged"
        voter.attempts.append(Attempt(0.0, 0.01, 201))
    record = {
        "ballots": [{"receipt": v.receipt, "choice": v.choice} for v in people],
        "participants": [{"member_id": v.member_id} for v in people],
        "result": {"tally": dict(Counter(v.choice for v in people))},
    }
    committed = [Committed(10 + i, f"e{i}", "vote.recorded") for i in range(voters)]
    arrivals = [Arrival(float(i), "voting", c.event_id, c.type, {}) for i, c in enumerate(committed)]
    return Evidence(
        fault="synthetic",
        seed=1,
        load=LoadResult(people, 0.0, 1.0),
        close_answer={"votes_cast": voters, "result": copy.deepcopy(record["result"])},
        record=record,
        ballot_status="closed",
        committed={"voting": committed},
        arrivals={"voting": arrivals},
        undrained={"voting": 0},
    )


def test_the_checker_passes_a_clean_run_and_drops_duplicate_events() -> None:
    evidence = _evidence()
    evidence.arrivals["voting"] += evidence.arrivals["voting"][:2]  # redelivered: allowed, deduped
    verdict = check(evidence)
    assert verdict.holds, verdict.violations
    assert (verdict.figures.counted, verdict.figures.duplicates_dropped) == (6, 2)


def test_an_acknowledged_receipt_missing_from_the_record_is_a_lost_vote() -> None:
    evidence = _evidence()
    assert evidence.record is not None
    removed = evidence.record["ballots"].pop(2)
    evidence.record["participants"].pop(2)
    evidence.record["result"]["tally"][removed["choice"]] -= 1
    verdict = check(evidence)
    assert verdict.figures.lost == 1 and not verdict.holds
    assert any("missing from the record" in v for v in verdict.violations)


@pytest.mark.parametrize(
    ("doctor", "figure", "words"),
    [
        (lambda e: e.record["ballots"].append(dict(e.record["ballots"][0])), "doubled", "twice"),
        (lambda e: e.record["ballots"][0].update(choice="spoilt"), "altered", "another choice"),
        (lambda e: e.committed["voting"].append(Committed(99, "never", "vote.recorded")), "events_lost", "never"),
        (lambda e: e.arrivals["voting"].reverse(), "out_of_order", "out of outbox order"),
        (lambda e: e.undrained.update(voting=3), "undrained", "never published"),
        (lambda e: setattr(e, "ballot_status", "open"), "stuck", "left 'open'"),
        (lambda e: e.load.voters[0].attempts.append(Attempt(0.0, 0.1, 500, "internal")), "http_5xx", "5xx"),
    ],
)
def test_each_broken_promise_is_caught(doctor: Any, figure: str, words: str) -> None:
    evidence = _evidence()
    doctor(evidence)
    verdict = check(evidence)
    assert getattr(verdict.figures, figure) >= 1, verdict.figures
    assert any(words in v for v in verdict.violations), verdict.violations


def test_a_refused_voter_who_is_counted_is_caught_and_a_503_is_allowed_only_when_said() -> None:
    evidence = _evidence()
    refused = evidence.load.voters[0]
    refused.receipt, refused.outcome = None, "refused"
    refused.attempts[:] = [Attempt(0.0, 0.1, 409, "conflict")]
    verdict = check(evidence)
    assert verdict.figures.refused_counted == 1 and not verdict.holds

    evidence = _evidence()
    evidence.load.voters[1].attempts.insert(0, Attempt(0.0, 0.1, 503, "unavailable", retry_after="2"))
    assert not check(evidence).holds
    evidence.allow_503_with_retry_after = True
    assert check(evidence).holds


@pytest.fixture(scope="module")
def broken() -> Iterator[FaultStack]:
    with fault_stack(
        invariants.stack_dir("broken"),
        voting_replicas=1,
        service_env={"voting": {"PYTHONPATH": str(SABOTAGE), "FAULTS_SABOTAGE": "drop-one-vote"}},
    ) as running:
        yield running


@pytest.mark.faults
@pytest.mark.timeout(600)
def test_a_build_that_drops_an_acknowledged_vote_is_caught(broken: FaultStack) -> None:
    hall: Congress = congress_in_session(broken, 40, workers=4)

    def no_fault(run: Run) -> None:
        run.wait_fraction(1.0)

    verdict, _, _ = run_under_fault(
        broken, hall, "(test of the test) a build that drops one vote", 1, no_fault, rate=20
    )
    assert not verdict.holds, "the invariant check let a lost vote through"
    assert verdict.figures.lost >= 1
    assert any("missing from the record" in v for v in verdict.violations)
