"""The gateway's gathering of votes (gateway/gathering.py), with the call to voting replaced by a
script: votes that arrive while calls are out go together in the next, each request gets its own
answer, a failed call fails each of its votes as a call of its own would, and a vote whose request
gave up before it was sent is never sent."""

from __future__ import annotations

from typing import Any, ClassVar

import eventlet
import pytest
from eventlet.event import Event

from congress.errors import Conflict, InvalidInput, error_from_wire, error_to_wire
from congress.rpc import ServiceUnavailable
from gateway import gathering
from gateway.gathering import VoteGatherer


class Container:
    config: ClassVar[dict[str, Any]] = {}
    service_name = "gateway"

    def spawn_managed_thread(self, fn: Any, identifier: str | None = None) -> Any:
        return eventlet.spawn(fn)


class Voting:
    """Stands in for `voting.cast_votes`: records each call, answers when `release` is sent."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.release = Event()
        self.fail: Exception | None = None

    def __call__(self, method: Any, votes: list[dict[str, Any]], timeout: float = 10.0) -> list[dict[str, Any]]:
        self.calls.append(votes)
        self.release.wait()
        if self.fail is not None:
            raise self.fail
        return [
            {"error": error_to_wire(InvalidInput("bad", {"choice": ["not a choice"]}))}
            if vote["vote"].get("choice") == "maybe"
            else {"ok": {"ballot_id": vote["ballot_id"], "receipt": f"r-{vote['credential_hash']}"}}
            for vote in votes
        ]


@pytest.fixture
def voting(monkeypatch: pytest.MonkeyPatch) -> Voting:
    script = Voting()
    monkeypatch.setattr(gathering, "call", script)
    monkeypatch.setattr(gathering, "standalone_proxy", lambda *args: Proxy())
    return script


class Proxy:
    def __getattr__(self, method: str) -> str:
        return method


def until(condition: Any) -> None:
    """Let the other greenthreads run until `condition()` holds (a bounded number of turns)."""
    for _ in range(1000):
        if condition():
            return
        eventlet.sleep(0)
    raise AssertionError("never came to pass")


def gatherer(in_flight: int = 1, batch_max: int = 100) -> VoteGatherer:
    votes = VoteGatherer()
    votes.container = Container()
    votes.configure({}, {"VOTE_BATCHES_IN_FLIGHT": str(in_flight), "VOTE_BATCH_MAX": str(batch_max)})
    votes.start()
    return votes


def vote(n: int, choice: str = "yes") -> dict[str, Any]:
    return {
        "credential_hash": f"h{n}",
        "ballot_id": "b1",
        "vote": {"choice": choice},
        "receipt_key": "k" * 32,
        "correlation_id": f"c{n}",
    }


def outcome(votes: VoteGatherer, submitted: dict[str, Any], timeout: float = 10.0) -> Any:
    try:
        return votes.cast(submitted, timeout=timeout)
    except Exception as exc:
        return exc


def test_votes_arriving_while_a_call_is_out_go_together_each_with_its_answer(voting: Voting) -> None:
    votes = gatherer(in_flight=1)
    first = eventlet.spawn(outcome, votes, vote(0))
    until(lambda: voting.calls)  # the first goes alone: nothing waits for a batch to fill
    assert [len(c) for c in voting.calls] == [1]
    rest = [eventlet.spawn(outcome, votes, vote(n, "maybe" if n == 3 else "yes")) for n in range(1, 8)]
    until(lambda: len(votes._pending) == 7)
    assert [len(c) for c in voting.calls] == [1]  # one call out at a time: the others wait for it
    voting.release.send()
    answers = [first.wait()] + [g.wait() for g in rest]
    assert [len(c) for c in voting.calls] == [1, 7]
    assert [v["correlation_id"] for v in voting.calls[1]] == [f"c{n}" for n in range(1, 8)]
    for n, answer in enumerate(answers):
        if n == 3:
            assert isinstance(answer, InvalidInput) and answer.fields == {"choice": ["not a choice"]}
        else:
            assert answer == {"ballot_id": "b1", "receipt": f"r-h{n}"}


def test_a_batch_is_cut_at_its_maximum(voting: Voting) -> None:
    votes = gatherer(in_flight=1, batch_max=3)
    voting.release.send()
    waiting = [eventlet.spawn(outcome, votes, vote(n)) for n in range(8)]
    assert all(isinstance(g.wait(), dict) for g in waiting)
    assert max(len(c) for c in voting.calls) <= 3
    assert sum(len(c) for c in voting.calls) == 8


def test_a_failed_call_fails_each_of_its_votes(voting: Voting) -> None:
    votes = gatherer(in_flight=2)
    voting.fail = ServiceUnavailable("voting did not answer within 10s")
    voting.release.send()
    waiting = [eventlet.spawn(outcome, votes, vote(n)) for n in range(5)]
    assert all(isinstance(g.wait(), ServiceUnavailable) for g in waiting)


def test_a_vote_not_yet_sent_when_its_request_gives_up_is_never_sent(voting: Voting) -> None:
    votes = gatherer(in_flight=1)
    first = eventlet.spawn(outcome, votes, vote(0))
    until(lambda: voting.calls)
    late = eventlet.spawn(outcome, votes, vote(1), 0.01)  # gives up (11 ms) while the first call is out
    assert isinstance(late.wait(), ServiceUnavailable)
    voting.release.send()
    assert first.wait() == {"ballot_id": "b1", "receipt": "r-h0"}
    until(lambda: votes._senders == 0)  # the sender has looked at what was left, and stopped
    assert [[v["credential_hash"] for v in c] for c in voting.calls] == [["h0"]]


def test_settings_are_read_and_checked() -> None:
    votes = VoteGatherer()
    votes.configure({"VOTE_BATCH_MAX": 7}, {"VOTE_BATCHES_IN_FLIGHT": "2"})
    assert (votes.batch_max, votes.in_flight) == (7, 2)
    with pytest.raises(ValueError, match="VOTE_BATCH_MAX must be at least 1"):
        votes.configure({}, {"VOTE_BATCH_MAX": "0"})


def test_errors_cross_a_batch_as_their_own_class() -> None:
    for error in (Conflict("already voted", {"choice": ["already voted"]}), InvalidInput("bad", {})):
        back = error_from_wire(error_to_wire(error))
        assert type(back) is type(error) and back.message == error.message and back.fields == error.fields
