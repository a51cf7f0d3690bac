"""Issue 16: a congress under load survives one fault at a time, measured from outside.

Each test: the module's congress (FAULTS_VOTERS delegates) votes on a fresh ballot over HTTP at
FAULTS_RATE votes/s, one fault is injected at a seeded moment (the seed is printed), the ballot
is closed, and the one invariant (tests/faults/invariants.py) is checked after recovery; the
figures go to stdout and var/faults/last-run.{json,md}. The broker cut runs last.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.faults.harness import FaultStack, env_float
from tests.faults.load import LoadResult
from tests.faults.scenario import Run, run_under_fault
from tests.support.congress import Congress

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

SERVE_AGAIN_WITHIN = 10.0  # seconds after the broker's return (issue 16, acceptance 2)


def test_kill_9_of_one_voting_replica_mid_load_then_restart(healthy: FaultStack, congress: Congress, seed: int) -> None:
    def inject(run: Run) -> None:
        at = run.wait_fraction(run.rng.uniform(0.25, 0.6))
        victim = run.rng.choice(run.stack.replicas("voting"))
        run.stack.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        run.extra.update(victim=victim, killed_at_ack=at)
        # The two others carry the hall on their own for a while before the victim comes back.
        run.wait_fraction(min(1.0, at / run.voters + 0.15), timeout=60)
        since = run.stack.restart(victim)
        run.stack.wait_replica_ready(victim, since)
        run.recovery_s = time.monotonic() - killed

    verdict, _, _ = run_under_fault(healthy, congress, "kill -9 one voting replica of 3", seed, inject)
    assert verdict.holds, verdict.violations


def test_kill_9_of_the_relay_leader_while_events_are_pending(
    healthy: FaultStack, congress: Congress, seed: int
) -> None:
    def inject(run: Run) -> None:
        run.wait_fraction(run.rng.uniform(0.25, 0.6))
        # The lock is held only while a relay works: kill the leader the moment it is seen leading
        # with 5 events pending (after 2 s, with any pending), the kill following the look in ms.
        started, found = time.monotonic(), None
        while found is None and time.monotonic() - started < 30:
            leader = run.stack.relay_leader()
            wanted = 5 if time.monotonic() - started < 2 else 1
            if leader is not None and leader[1] >= wanted:
                found = leader
        if found is None:
            run.findings.append("no relay held the lock with events pending within 30 s")
            return
        victim, pending = found
        run.stack.kill(victim, signal.SIGKILL)
        head = run.stack.outbox_heads()["voting"]
        run.extra.update(victim=victim, pending_at_kill=pending)
        # A standby relay takes over: what was pending at the kill is published while the leader is dead.
        run.recovery_s = run.stack.wait_published("voting", head, timeout=30)
        if run.recovery_s is None:
            run.findings.append("no standby relay published the pending events within 30 s of the kill")
        since = run.stack.restart(victim)
        run.stack.wait_replica_ready(victim, since)

    verdict, _, _ = run_under_fault(healthy, congress, "kill -9 of the relay leader", seed, inject)
    assert verdict.holds, verdict.violations


def test_voting_database_connections_terminated_during_the_load(
    healthy: FaultStack, congress: Congress, seed: int
) -> None:
    def inject(run: Run) -> None:
        terminated = []
        for k in range(4):
            run.wait_fraction((k + 1) / 5 + run.rng.uniform(-0.05, 0.05))
            terminated.append(run.stack.terminate_connections("voting"))
        run.extra["pg_terminated"] = "+".join(str(n) for n in terminated)

    verdict, _, _ = run_under_fault(healthy, congress, "voting's DB connections terminated x4", seed, inject)
    assert verdict.holds, verdict.violations


def test_a_close_asked_of_every_replica_at_once_while_votes_arrive(
    healthy: FaultStack, congress: Congress, seed: int
) -> None:
    closes: list[tuple[int, dict[str, Any]]] = []

    def inject(run: Run) -> None:
        run.wait_fraction(run.rng.uniform(0.4, 0.7))
        replicas = len(run.stack.replicas("voting"))
        barrier = threading.Barrier(3 * replicas)

        def close(_: int) -> tuple[int, dict[str, Any]]:
            barrier.wait(timeout=30)
            answer = run.stack.api("POST", f"/api/v1/ballots/{run.ballot_id}/close", timeout=60)
            return answer.status_code, answer.json()

        with ThreadPoolExecutor(3 * replicas) as pool:
            closes.extend(pool.map(close, range(3 * replicas)))
        run.extra["closes"] = dict(Counter(status for status, _ in closes))
        if closes and closes[0][0] == 200:
            run.close_answer = closes[0][1]

    def judge(run: Run, _result: LoadResult) -> list[str]:
        ballot = run.ballot_id
        logs = {k: healthy.log_lines(k, ballot) for k in healthy.replicas("voting")}
        closed_by = [k for k, lines in logs.items() for line in lines if f"closed ballot {ballot}" in line]
        answered = {
            k: sum(f"ballot {ballot} was already closed" in line for line in lines) for k, lines in logs.items()
        }
        served = [k for k in logs if k in closed_by or answered[k]]
        committed = healthy.rows(
            "voting",
            "SELECT type, count(*) AS n FROM outbox WHERE type IN ('ballot.closed', 'motion.decided') "
            "AND CAST(envelope AS jsonb) -> 'data' ->> 'ballot_id' = :b GROUP BY type",
            b=ballot,
        )
        heard = {
            a.event_id: a.type
            for a in healthy.subscriber.arrivals("voting")
            if a.type in ("ballot.closed", "motion.decided") and a.data.get("ballot_id") == ballot
        }
        run.extra.update(closed_by=",".join(closed_by), served_by=",".join(served))
        problems = []
        if [status for status, _ in closes if status != 200]:
            problems.append(f"closes answered {dict(Counter(status for status, _ in closes))}")
        if any(answer != closes[0][1] for _, answer in closes):
            problems.append("the closes did not all give the same answer")
        if len(closed_by) != 1:
            problems.append(f"closed {len(closed_by)} times: {closed_by}")
        if served != sorted(logs):
            problems.append(f"the closes did not reach every replica, only {served}")
        if {r["type"]: r["n"] for r in committed} != {"ballot.closed": 1, "motion.decided": 1}:
            problems.append(f"result events committed: {committed}")
        if sorted(heard.values()) != ["ballot.closed", "motion.decided"]:
            problems.append(f"result events heard outside: {sorted(heard.values())}")
        return problems

    verdict, _, _ = run_under_fault(healthy, congress, "a close on every replica at once", seed, inject, judge=judge)
    assert verdict.holds, verdict.violations


def test_the_secretariat_killed_while_deliveries_are_in_flight(
    healthy: FaultStack, congress: Congress, seed: int
) -> None:
    sections, prefix = 40, f"f{seed % 10000:04d}"
    for i in range(sections):
        code = f"{prefix}{i:02d}"
        answer = healthy.api(
            "POST",
            "/api/v1/sections",
            json={"code": code, "name": f"Section {code}", "country": "Faultland", "email": f"{code}@example.org"},
        )
        assert answer.status_code == 201, answer.text
    deadline = time.monotonic() + 60
    known = "SELECT count(*) AS n FROM sections WHERE code LIKE :p"
    while healthy.rows("secretariat", known, p=prefix + "%")[0]["n"] < sections:
        assert time.monotonic() < deadline, "the secretariat never heard of the new sections"
        time.sleep(0.3)
    title = f"Faults circular {seed}"
    delivered: dict[str, Any] = {}

    def inject(run: Run) -> None:
        run.wait_fraction(run.rng.uniform(0.2, 0.4))
        healthy.mailbox.delay = 0.4  # a batch of sends is in flight when the kill comes
        issued = run.stack.api("POST", "/api/v1/circulars", json={"title": title, "body": "Comrades, …"})
        assert issued.status_code == 201, issued.text
        recipients = issued.json()["recipients"]
        wanted = run.rng.randint(3, max(4, recipients // 3))
        got = healthy.mailbox.wait_for(lambda m: title in m.subject, count=wanted, timeout=60)
        run.stack.kill("secretariat", signal.SIGKILL)
        killed = time.monotonic()
        run.extra.update(recipients=recipients, mails_before_kill=len(got))
        healthy.mailbox.delay = 0.0
        since = run.stack.restart("secretariat")
        run.stack.wait_replica_ready("secretariat", since)
        ours = _circular_deliveries(run.stack, title)
        while ours is None or any(d["status"] != "delivered" for d in ours):
            if time.monotonic() - killed > 120:
                statuses = Counter(d["status"] for d in ours or [])
                run.findings.append(f"deliveries not all delivered 120 s after the kill: {dict(statuses)}")
                break
            time.sleep(0.5)
            ours = _circular_deliveries(run.stack, title)
        else:
            run.recovery_s = time.monotonic() - killed
        delivered["rows"] = ours or []

    def judge(run: Run, _result: LoadResult) -> list[str]:
        rows = delivered.get("rows", [])
        ids = {d["id"] for d in rows}
        mails = healthy.mailbox.matching(lambda m: title in m.subject)
        sent = Counter(m.message_id.strip("<>").split("@")[0] for m in mails)
        recorded = Counter(
            e["event"]["data"]["delivery_id"]
            for e in _events(healthy, "secretariat", "notification.delivered")
            if e["event"]["data"]["delivery_id"] in ids
        )
        twice = [d for d in ids if sent[d] > 1]
        run.extra.update(deliveries=len(ids), sent_twice=len(twice), recorded=sum(recorded.values()))
        problems = []
        if not rows:
            problems.append("the circular made no deliveries")
        if unsent := [d for d in ids if not sent[d]]:
            problems.append(f"{len(unsent)} delivery(ies) never sent")
        if badly := [d for d in ids if recorded[d] != 1]:
            problems.append(f"{len(badly)} delivery(ies) not recorded exactly once")
        if odd := [d for d in sorted(ids) if _delivered_attempts(healthy, d) != 1]:
            problems.append(f"{len(odd)} delivery(ies) without exactly one delivered attempt")
        return problems

    verdict, _, _ = run_under_fault(healthy, congress, "secretariat killed mid-delivery", seed, inject, judge=judge)
    assert verdict.holds, verdict.violations


def _voting_log_since(stack: FaultStack, needle: str, since: float) -> list[str]:
    """The messages of every voting replica's log lines containing `needle`, logged after `since` (wall clock)."""
    found = []
    for key in stack.replicas("voting"):
        for line in stack.log_lines(key, needle):
            try:
                entry = json.loads(line)
                if datetime.fromisoformat(entry["ts"]).timestamp() >= since:
                    found.append(entry["message"])
            except (ValueError, KeyError):
                continue
    return found


def _circular_deliveries(stack: FaultStack, title: str) -> list[dict[str, Any]] | None:
    """The email deliveries of our circular (its circular.issued event), None before they exist."""
    issued = [e for e in _events(stack, "secretariat", "circular.issued") if e["event"]["data"]["title"] == title]
    if not issued:
        return None
    answer = stack.api(
        "GET", "/api/v1/deliveries", params={"event_type": "circular.issued", "channel": "email", "limit": 1000}
    )
    if answer.status_code != 200:
        return None
    event_id = issued[0]["event"]["event_id"]
    return [d for d in answer.json()["deliveries"] if d.get("event_id") == event_id]


def _events(stack: FaultStack, producer: str, event_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    for _ in range(100):
        answer = stack.api(
            "GET", f"/api/v1/events/{producer}", params={"after": after, "limit": 1000, "types": event_type}
        )
        page = answer.json()
        if not page["events"]:
            break
        found += page["events"]
        after = page["next_after"]
    return found


def _delivered_attempts(stack: FaultStack, delivery_id: str) -> int:
    log = stack.api("GET", f"/api/v1/deliveries/{delivery_id}").json().get("log", [])
    return sum(1 for attempt in log if attempt.get("outcome") == "delivered")


def test_the_broker_cut_for_every_service(healthy: FaultStack, congress: Congress, seed: int) -> None:
    """Last in the module: today it leaves voting dead (the next module's stack is its own)."""
    cut_for = env_float("FAULTS_BROKER_CUT_SECONDS", 60.0)
    windows: dict[str, float] = {}

    def inject(run: Run) -> None:
        run.wait_fraction(run.rng.uniform(0.2, 0.5))
        run.stack.proxy.cut()
        windows["cut"] = time.monotonic()
        run.extra["cut_s"] = cut_for
        time.sleep(cut_for)  # the outage's length is the fault itself, not a wait for an outcome
        run.stack.proxy.restore()
        windows["restored"] = restored = time.monotonic()
        windows["restored_wall"] = time.time()
        # Serving again: /health says ok and a read that goes through voting answers.
        ready = {"health": None, "voting": None}
        deadline = restored + 60
        while None in ready.values() and time.monotonic() < deadline:
            if not run.stack.alive("voting"):
                break  # nothing left to serve: no use waiting
            for what, path in (("health", "/health"), ("voting", f"/api/v1/ballots/{run.ballot_id}")):
                if ready[what] is None:
                    try:
                        answer = run.stack.api("GET", path, timeout=5)
                        if answer.status_code == 200:
                            ready[what] = time.monotonic() - restored
                    except requests.RequestException:
                        pass
            time.sleep(0.2)
        run.extra.update({f"{k}_back_s": None if v is None else round(v, 1) for k, v in ready.items()})
        if None in ready.values():
            run.findings.append(f"not serving 60 s after the broker's return: {ready}")
        else:
            run.recovery_s = max(v for v in ready.values() if v is not None)
            if run.recovery_s > SERVE_AGAIN_WITHIN:
                run.findings.append(f"serving again only {run.recovery_s:.1f}s after the broker's return")
        windows["recovered"] = time.monotonic()

    def judge(run: Run, result: LoadResult) -> list[str]:
        cut, restored = windows.get("cut", 0.0), windows.get("restored", 0.0)
        during = [a for a in result.attempts if cut <= a.started < restored]
        timed_out = [a for a in during if a.status is None]
        not_503 = [a for a in during if (a.status or 0) >= 500 and not (a.status == 503 and a.retry_after)]
        silent = [s for s in run.health.between(cut, windows.get("recovered", restored)) if s.status is None]
        said_ok = [s for s in run.health.between(cut + 5, restored) if s.status == 200]
        said = {str(s.body.get("services") or s.body) for s in run.health.between(cut + 5, restored) if s.status}
        died = [f"{d.key}@+{d.at - cut:.0f}s" for d in healthy.deaths if d.at >= cut]
        back = healthy.reconnected(windows.get("restored_wall", time.time()))
        run.extra["reconnected_s"] = ",".join(f"{k}:{v}" for k, v in back.items())
        # Requests whose clients were gone: refused unworked after the return, none worked late.
        since = windows.get("restored_wall", time.time())
        stale = _voting_log_since(healthy, "refused an RPC: voting.", since)
        refused_stale = [m for m in stale if "expired" in m]
        late = [float(m.split(" sent ")[1].split("s ago")[0]) for m in _voting_log_since(healthy, "a late RPC:", since)]
        patience = env_float("FAULTS_CLIENT_TIMEOUT", 15.0)
        worked_stale = [age for age in late if age > patience]
        run.extra.update(
            stale_refused_after_return=len(refused_stale), oldest_call_worked_after_return_s=max(late, default=0)
        )
        answered = sorted(a.latency for a in during if a.status is not None)
        run.extra.update(
            during_cut=dict(Counter(str(a.status or a.error) for a in during)),
            slowest_answer_in_cut_s=round(answered[-1], 1) if answered else None,
            died=",".join(died),
        )
        print(f"/health during the cut said: {sorted(said)[:3]}")
        problems = []
        if timed_out:
            problems.append(f"{len(timed_out)} client request(s) got no answer within their timeout during the cut")
        if not_503:
            problems.append(f"{len(not_503)} 5xx answer(s) during the cut were not a 503 with Retry-After")
        if silent:
            problems.append(f"/health did not answer within 5 s {len(silent)} time(s) during the cut and recovery")
        if said_ok:
            problems.append(f"/health said all is well {len(said_ok)} time(s) while the broker was cut")
        if worked_stale:
            problems.append(
                f"voting worked {len(worked_stale)} request(s) after the return that were older than the clients' "
                f"{patience:.0f} s timeout (oldest {max(worked_stale):.0f} s)"
            )
        if slow := {k: v for k, v in back.items() if v is None or v > SERVE_AGAIN_WITHIN}:
            problems.append(
                f"consumers reconnected more than {SERVE_AGAIN_WITHIN:.0f} s after the broker's return: {slow}"
            )
        return problems

    verdict, _, _ = run_under_fault(
        healthy,
        congress,
        f"broker cut for all services ({cut_for:.0f} s)",
        seed,
        inject,
        allow_503=True,
        voter_budget=cut_for + 60,
        judge=judge,
    )
    assert verdict.holds, verdict.violations
