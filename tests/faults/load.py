"""Delegates voting over HTTP as real clients do: a bounded timeout per request, and a retry with
the SAME request_id after a timeout, a 5xx or a connection error (honouring Retry-After), until
an answer that settles it (201 receipt, or a 4xx refusal) or the voter's own deadline."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

CHOICES = ("yes", "no", "abstain")


@dataclass(frozen=True)
class Attempt:
    started: float  # time.monotonic()
    latency: float
    status: int | None  # None: no HTTP answer
    error: str | None = None  # "timeout", "connection" or the API error code
    retry_after: str | None = None


@dataclass
class Voter:
    member_id: str
    auth: str
    choice: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: list[Attempt] = field(default_factory=list)
    receipt: str | None = None
    outcome: str = "pending"  # acknowledged, refused, gave_up

    @property
    def ambiguous(self) -> bool:
        """A refusal after an attempt whose answer was lost: the vote may have been committed."""
        return self.outcome == "refused" and any(a.status is None or a.status >= 500 for a in self.attempts)


@dataclass
class LoadResult:
    voters: list[Voter]
    started: float
    finished: float

    @property
    def attempts(self) -> list[Attempt]:
        return [a for v in self.voters for a in v.attempts]

    @property
    def acknowledged(self) -> dict[str, str]:
        return {v.member_id: v.receipt for v in self.voters if v.receipt}

    def outcomes(self) -> Counter[str]:
        return Counter(v.outcome for v in self.voters)

    def statuses(self) -> Counter[str]:
        return Counter(str(a.status or a.error) for a in self.attempts)

    def server_errors(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status is not None and a.status >= 500]

    def client_timeouts(self) -> list[Attempt]:
        return [a for a in self.attempts if a.error == "timeout"]


class VoteLoad:
    """`start()` sends the votes in the background at `rate` voters a second over `workers`
    threads; `wait()` returns the result. `acknowledged_count()` is the progress barrier that
    fault injectors wait on."""

    def __init__(
        self,
        gateway_url: str,
        ballot_id: str,
        delegates: list[Any],
        rng: random.Random,
        rate: float = 40.0,
        workers: int | None = None,
        client_timeout: float = 15.0,
        voter_budget: float = 120.0,
        backoff_cap: float = 5.0,
    ) -> None:
        self.url = f"{gateway_url}/api/v1/ballots/{ballot_id}/votes"
        self.voters = [Voter(d.member_id, d.auth, rng.choice(CHOICES)) for d in delegates]
        rng.shuffle(self.voters)
        self.rate = rate
        # A thread per voter (up to 400): each keeps to its turn even when every other voter is
        # still retrying through an outage, as a hall of people with their own phones would.
        self.workers = workers or min(len(self.voters), 400)
        self.client_timeout = client_timeout
        self.voter_budget = voter_budget
        self.backoff_cap = backoff_cap
        self._jitter = random.Random(rng.random())
        self._lock = threading.Lock()
        self._acknowledged = 0
        self._settled = 0
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Any] = []
        self.started = 0.0

    def acknowledged_count(self) -> int:
        return self._acknowledged

    def settled_count(self) -> int:
        return self._settled

    def wait_acknowledged(self, count: int, timeout: float) -> bool:
        """A barrier: True once `count` votes were acknowledged, False at the timeout or when
        every voter has settled without reaching it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._acknowledged >= count:
                return True
            if self._settled >= len(self.voters):
                return False
            time.sleep(0.02)
        return False

    def start(self) -> VoteLoad:
        self.started = time.monotonic()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="voter")
        self._futures = [
            self._pool.submit(self._vote, voter, self.started + i / self.rate) for i, voter in enumerate(self.voters)
        ]
        return self

    @property
    def longest(self) -> float:
        """Seconds from start() by which every voter has settled, whatever happens."""
        return len(self.voters) / self.rate + self.voter_budget + self.client_timeout + self.backoff_cap + 5

    def wait(self) -> LoadResult:
        assert self._pool is not None, "start() first"
        deadline = self.started + self.longest + 30
        for future in self._futures:
            future.result(timeout=max(0.1, deadline - time.monotonic()))
        self._pool.shutdown(wait=True)
        return LoadResult(self.voters, self.started, time.monotonic())

    def _vote(self, voter: Voter, not_before: float) -> None:
        delay = not_before - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        # From the voter's turn in the schedule, not from when a worker got to it.
        deadline = not_before + self.voter_budget
        if time.monotonic() >= deadline:
            voter.outcome = "gave_up"
            with self._lock:
                self._settled += 1
            return
        backoff = 0.5
        while True:
            started = time.monotonic()
            status: int | None = None
            error: str | None = None
            retry_after: str | None = None
            try:
                answer = requests.post(
                    self.url,
                    json={"choice": voter.choice, "request_id": voter.request_id},
                    headers={"Authorization": voter.auth},
                    timeout=self.client_timeout,
                )
                status = answer.status_code
                retry_after = answer.headers.get("Retry-After")
                body = _json(answer)
                if status == 201:
                    voter.receipt = body.get("receipt")
                else:
                    error = (body.get("error") or {}).get("code")
            except requests.Timeout:
                error = "timeout"
            except requests.ConnectionError:
                error = "connection"
            voter.attempts.append(Attempt(started, time.monotonic() - started, status, error, retry_after))
            if status == 201:
                voter.outcome = "acknowledged"
                with self._lock:
                    self._acknowledged += 1
                    self._settled += 1
                return
            if status is not None and status < 500:
                voter.outcome = "refused"
                with self._lock:
                    self._settled += 1
                return
            if time.monotonic() >= deadline:
                voter.outcome = "gave_up"
                with self._lock:
                    self._settled += 1
                return
            wait = backoff
            if retry_after and retry_after.isdigit():
                wait = float(retry_after)
            wait = min(wait, self.backoff_cap) * (0.5 + self._jitter.random() / 2)
            time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
            backoff = min(backoff * 2, self.backoff_cap)


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
