"""Delegates' votes gathered on their way to voting: one call and one commit for many (group commit).

A vote's fixed costs are the RPC (a request and a reply through the broker, each decoded and
signed) and the transaction's commit; with 500 delegates voting at once they dominate. The gateway
therefore keeps a few calls to `voting.cast_votes` in flight (VOTE_BATCHES_IN_FLIGHT, 6) and sends
every vote that arrived while they were out in the next one, up to VOTE_BATCH_MAX (100) a call.
Nothing waits for a batch to fill: a vote that finds a call free goes at once, alone, so a quiet
hall sees no delay, and a full one shares the costs among the votes of each batch.

Each vote keeps its own answer (its receipt or its own refusal) and its own request's correlation
id; voting validates and casts each exactly as it would alone (voting.balloting.cast_votes), so the
gateway passes votes on unchecked and no request can spoil its neighbours' batch.
"""

from __future__ import annotations

import collections
import logging
import os
from typing import Any

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider

from congress.errors import error_from_wire
from congress.messaging.nameko_edge import SteadyReplyListener, standalone_proxy
from congress.metrics import VOTES_GATHERED
from congress.rpc import DEFAULT_TIMEOUT, ServiceUnavailable, call

log = logging.getLogger(__name__)

BATCH_MAX = 100
BATCHES_IN_FLIGHT = 6


class _Waiting:
    """One vote between its request and its batch's answer."""

    __slots__ = ("abandoned", "done", "sent", "vote")

    def __init__(self, vote: dict[str, Any]) -> None:
        self.vote = vote
        self.done = Event()
        self.sent = False
        self.abandoned = False  # its request gave up before the vote was sent: never send it


class VoteGatherer(DependencyProvider):
    """The gateway's batches of votes; a worker gets `Gathering`, which knows its correlation id."""

    reply_listener = SteadyReplyListener()  # the gateway's own (shared with its RpcProxies)

    def __init__(self, service: str = "voting", method: str = "cast_votes") -> None:
        self.service = service
        self.method = method
        self.batch_max = BATCH_MAX
        self.in_flight = BATCHES_IN_FLIGHT
        self._pending: collections.deque[_Waiting] = collections.deque()
        self._senders = 0
        self._running = False

    def setup(self) -> None:
        self.configure(self.container.config)

    def configure(self, config: dict[str, Any], environ: dict[str, str] | None = None) -> None:
        """VOTE_BATCH_MAX (100) and VOTE_BATCHES_IN_FLIGHT (6): nameko config, then environment.
        VOTE_BATCH_MAX=1 sends every vote alone."""
        environ = dict(os.environ) if environ is None else environ

        def setting(key: str, default: int) -> int:
            value = config.get(key)
            if value in (None, ""):
                value = environ.get(key)
            number = default if value in (None, "") else int(value)
            if number < 1:
                raise ValueError(f"{key} must be at least 1, not {number}")
            return number

        self.batch_max = setting("VOTE_BATCH_MAX", BATCH_MAX)
        self.in_flight = setting("VOTE_BATCHES_IN_FLIGHT", BATCHES_IN_FLIGHT)

    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False
        while self._pending:  # not sent: the client tries again, through another gateway if need be
            self._pending.popleft().done.send_exception(
                ServiceUnavailable("the gateway is stopping; try again shortly", retry_after=2)
            )

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> Gathering:
        return Gathering(self, worker_ctx.data.get("correlation_id"))

    def cast(self, vote: dict[str, Any], timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The vote's receipt, or its own refusal raised; ServiceUnavailable after `timeout`."""
        if not self._running:
            raise ServiceUnavailable("the gateway is stopping; try again shortly", retry_after=2)
        waiting = _Waiting(vote)
        self._pending.append(waiting)
        if self._senders < self.in_flight:
            self._senders += 1  # no switch between the test and this: eventlet is cooperative
            self.container.spawn_managed_thread(self._send_while_pending, identifier="gateway.votes")
        try:
            # The batch's own call is bounded too; this bounds the wait before it is sent.
            with eventlet.Timeout(timeout + 1.0):
                answer = waiting.done.wait()
        except eventlet.Timeout:
            waiting.abandoned = not waiting.sent
            raise ServiceUnavailable(f"{self.service} did not answer within {timeout:.0f}s") from None
        if "error" in answer:
            raise error_from_wire(answer["error"])
        return answer["ok"]

    def _send_while_pending(self) -> None:
        try:
            while self._pending:
                batch: list[_Waiting] = []
                while self._pending and len(batch) < self.batch_max:
                    waiting = self._pending.popleft()
                    if not waiting.abandoned:
                        batch.append(waiting)
                if batch:
                    self._send(batch)
        finally:
            self._senders -= 1

    def _send(self, batch: list[_Waiting]) -> None:
        for waiting in batch:
            waiting.sent = True
        VOTES_GATHERED.observe(len(batch))
        try:
            proxy = standalone_proxy(self.container, self.service, self.reply_listener, "votes")
            answers = call(getattr(proxy, self.method), [waiting.vote for waiting in batch])
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise RuntimeError(f"{self.service}.{self.method} answered {len(batch)} votes with another count")
        except Exception as exc:  # each request answers it as a call of its own would (503, or 500 logged)
            for waiting in batch:
                waiting.done.send_exception(exc)
            return
        for waiting, answer in zip(batch, answers, strict=True):
            waiting.done.send(answer)


class Gathering:
    """What a gateway worker sees: `cast` a delegate's vote under the worker's correlation id."""

    def __init__(self, gatherer: VoteGatherer, correlation_id: str | None) -> None:
        self._gatherer = gatherer
        self._correlation_id = correlation_id

    def cast(self, credential_hash: str, ballot_id: str, vote: Any, receipt_key: str) -> dict[str, Any]:
        return self._gatherer.cast(
            {
                "credential_hash": credential_hash,
                "ballot_id": ballot_id,
                "vote": vote,
                "receipt_key": receipt_key,
                "correlation_id": self._correlation_id,
            }
        )
