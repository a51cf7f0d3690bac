"""Issue 6, acceptance 2: three voting processes serving one RPC queue and one PostgreSQL
database; 500 delegates vote at once, with retries and duplicate submissions mixed in. Issue 12:
with no lock between the writers, a late subscriber still replays the log once, in order."""

from __future__ import annotations

import os
import random
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import Stack, running_stack
from tests.support import infra
from tests.support.congress import ballot_log_problems, congress_in_session, table_and_open
from tests.support.infra import EventTap, eventually
from tests.support.processes import RELAY_LOCK_HOLDER, child_pids, dead, owner_of_local_port, relay_lock_key

pytestmark = pytest.mark.e2e

DELEGATES = 500


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # A vhost of its own: the session's stack must not serve this stack's RPC queues.
    vhost = infra.create_vhost()
    if vhost is None:
        pytest.fail("rabbitmqctl is needed to give this stack its own vhost")
    try:
        with running_stack(
            "postgres", infra.amqp_uri(vhost), tmp_path_factory.mktemp("replicas"), replicas={"voting": 3}
        ) as stack:
            yield stack
    finally:
        infra.delete_vhost(vhost)


def test_500_concurrent_voters_on_three_replicas_are_counted_once_and_closed_once(replicated: Stack) -> None:
    stack = replicated
    assert sorted(k for k in stack.processes.processes if k.startswith("voting")) == ["voting", "voting-2", "voting-3"]
    congress = congress_in_session(stack, DELEGATES, workers=16)
    _, ballot = table_and_open(stack, congress.body_id)
    rng = random.Random(2026)
    intended = {d.member_id: rng.choice(["yes", "no", "abstain"]) for d in congress.delegates}
    submissions = []
    for delegate in congress.delegates:
        request_id = str(uuid.uuid4())
        choice = intended[delegate.member_id]
        submissions.append(("first", delegate, choice, request_id))
        roll = rng.random()
        if roll < 0.25:  # a retry after a lost answer: same request, same choice
            submissions.append(("retry", delegate, choice, request_id))
        elif roll < 0.35:  # a second, different vote
            other = next(c for c in ("yes", "no", "abstain") if c != choice)
            submissions.append(("different", delegate, other, str(uuid.uuid4())))
    rng.shuffle(submissions)

    def submit(entry: tuple) -> tuple:
        kind, delegate, choice, request_id = entry
        answer = stack.api(
            "POST",
            f"/api/v1/ballots/{ballot['id']}/votes",
            token=delegate.auth,
            json={"choice": choice, "request_id": request_id},
        )
        receipt = answer.json().get("receipt") if answer.status_code == 201 else None
        return kind, delegate.member_id, choice, answer.status_code, receipt

    with ThreadPoolExecutor(48) as pool:
        outcomes = list(pool.map(submit, submissions))

    assert not [o for o in outcomes if o[3] not in (201, 409)], Counter(o[3] for o in outcomes)
    acknowledged: dict[str, tuple[str, str]] = {}
    for _, member, choice, status, receipt in outcomes:
        if status == 201:
            assert acknowledged.setdefault(member, (choice, receipt)) == (choice, receipt)  # a retry: same receipt
    # A "different" submission may win the race against the voter's first one; then that one gets 409.
    assert len(acknowledged) == DELEGATES

    with EventTap(stack.amqp_uri, "voting.events", "#") as tap:
        barrier = threading.Barrier(6)

        def close() -> dict:
            barrier.wait()
            answer = stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close")
            assert answer.status_code == 200, answer.text
            return answer.json()

        with ThreadPoolExecutor(6) as pool:
            closes = list(pool.map(lambda _: close(), range(6)))
        events = tap.wait_for(lambda e: e["type"] == "motion.decided" and e["data"]["ballot_id"] == ballot["id"])
        events += tap.drain(2.0)

    assert all(c == closes[0] for c in closes)
    counted = Counter(choice for choice, _ in acknowledged.values())
    assert closes[0]["result"]["tally"] == {c: counted[c] for c in ("yes", "no", "abstain")}
    assert closes[0]["votes_cast"] == DELEGATES
    mine = [e["type"] for e in events if e["data"].get("ballot_id") == ballot["id"]]
    assert mine.count("ballot.closed") == 1 and mine.count("motion.decided") == 1
    record = stack.api("GET", f"/api/v1/ballots/{ballot['id']}/record").json()
    assert sorted(b["receipt"] for b in record["ballots"]) == sorted(r for _, r in acknowledged.values())
    assert len({p["member_id"] for p in record["participants"]}) == DELEGATES

    # A late subscriber replays voting's log: every event of the ballot once, in order, and the
    # turnout the relay stamped counts 1, 2, …, 500 (three replicas wrote them, taking no lock).
    assert ballot_log_problems(stack, ballot["id"], DELEGATES) == []

    # The six closes really met on several replicas: one closed it, the others answered with its result.
    logs = {k: (stack.processes.log_dir / f"{k}.log").read_text() for k in ("voting", "voting-2", "voting-3")}
    closed = sum(text.count(f"closed ballot {ballot['id']}") for text in logs.values())
    answered = {k: text.count(f"ballot {ballot['id']} was already closed") for k, text in logs.items()}
    assert closed == 1 and sum(answered.values()) == 5
    served = [k for k in logs if answered[k] or f"closed ballot {ballot['id']}" in logs[k]]
    assert len(served) >= 2, answered


def relays(stack: Stack, key: str) -> list[int]:
    """The live relay processes of replica `key`: its children running relay_process."""
    found = []
    for pid in child_pids(stack.processes.processes[key].pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"congress.messaging.relay_process" in command:
            found.append(pid)
    return found


def pipes_of(stack: Stack, key: str) -> int:
    """How many pipe ends replica `key` holds open."""
    fd_dir = Path(f"/proc/{stack.processes.processes[key].pid}/fd")
    return sum(1 for fd in os.listdir(fd_dir) if os.readlink(fd_dir / fd).startswith("pipe:"))


def test_each_replica_relays_from_a_process_that_is_restarted_and_dies_with_it(replicated: Stack) -> None:
    """On PostgreSQL each replica's relay is a process of its own: killed alone, the replica starts
    another and events keep flowing; a replica killed with -9 takes its relay (and the relay lock
    it may hold) with it."""
    stack = replicated
    keys = ("voting", "voting-2", "voting-3")
    first = {key: relays(stack, key) for key in keys}
    assert all(len(pids) == 1 for pids in first.values()), first

    pipes = {key: pipes_of(stack, key) for key in keys}
    for pids in first.values():
        os.kill(pids[0], signal.SIGKILL)
    again = eventually(
        lambda: (
            (found := {key: relays(stack, key) for key in keys})
            and all(len(pids) == 1 and pids != first[key] for key, pids in found.items())
            and found
        ),
        what="each replica's new relay process",
    )

    # The dead relays' pipes were closed (once each replica's greenthread has resumed after the start).
    eventually(lambda: {key: pipes_of(stack, key) for key in keys} == pipes, what="the replicas' pipes as before")

    congress = congress_in_session(stack, 2, workers=2)
    _, ballot = table_and_open(stack, congress.body_id)
    with EventTap(stack.amqp_uri, "voting.events", "vote.recorded") as tap:
        voted = stack.api(
            "POST", f"/api/v1/ballots/{ballot['id']}/votes", token=congress.delegates[0].auth, json={"choice": "no"}
        )
        assert voted.status_code == 201, voted.text
        tap.wait_for(lambda e: e["data"]["ballot_id"] == ballot["id"])

    # A standby's relay (another replica leads) stops with its replica: no kill after a timeout.
    leader = eventually(lambda: relay_leader(stack), what="the relay leader")
    standby = next(key for key in keys if key != leader)
    log = stack.processes.log_dir / f"{standby}.log"
    before = log.read_text()
    stack.processes.processes[standby].send_signal(signal.SIGTERM)
    assert stack.processes.processes[standby].wait(timeout=30) == 0
    assert dead(again[standby][0])
    assert "relay process did not stop" not in log.read_text()[len(before) :]
    stack.processes.restart(standby)

    victim = next(key for key in keys if key != standby)
    replica = stack.processes.processes[victim]
    replica.send_signal(signal.SIGKILL)
    replica.wait(timeout=30)
    eventually(lambda: dead(again[victim][0]), what="the killed replica's relay to die with it")
    stack.processes.restart(victim)
    for key in (standby, victim):
        eventually(lambda key=key: len(relays(stack, key)) == 1, what=f"the restarted {key}'s relay")


def relay_leader(stack: Stack) -> str | None:
    """The replica whose relay holds voting's relay lock now."""
    with stack.engines["voting"].connect() as conn:
        row = conn.execute(
            sa.text(RELAY_LOCK_HOLDER),
            {"key": relay_lock_key("voting"), "db": stack.engines["voting"].url.database},
        ).first()
    if row is None or row.client_port is None:
        return None
    replicas = {key: p.pid for key, p in stack.processes.processes.items() if key.startswith("voting")}
    return owner_of_local_port(int(row.client_port), replicas)
