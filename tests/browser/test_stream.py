"""The live stream (GET /api/v1/stream): the broadcaster's rules in memory, then the real thing
against the stack (ids are log positions, Last-Event-ID misses nothing, no nameko worker is
held by an open stream, only public events)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import eventlet
import pytest
import requests

from gateway import stream
from gateway.stream import Broadcaster, ShortCache, catch_up, coalesce, frames, to_sent
from tests.browser.conftest import Hall
from tests.support.congress import congress_in_session, table_and_open
from tests.support.infra import eventually


def entry(position: int, event_type: str, **data: Any) -> dict[str, Any]:
    envelope = {"type": event_type, "version": 1, "occurred_at": "2027-01-10T10:00:00+00:00", "data": data}
    return {"position": position, "event": {**envelope, "correlation_id": "secret-trace", "producer": "voting"}}


def live_broadcaster(cursor: int = 10) -> Broadcaster:
    hub = Broadcaster()
    hub.cursor = hub.ring_floor = cursor
    return hub


def ids(chunk: bytes) -> list[int]:
    return [int(line[4:]) for line in chunk.decode().split("\n") if line.startswith("id: ")]


# The broadcaster, in memory


def test_only_the_latest_turnout_of_each_ballot_is_kept_and_order_is_kept() -> None:
    sent = coalesce(
        to_sent(
            [
                entry(11, "vote.recorded", ballot_id="a", votes_cast=1),
                entry(12, "vote.recorded", ballot_id="b", votes_cast=1),
                entry(13, "vote.recorded", ballot_id="a", votes_cast=2),
                entry(14, "ballot.closed", ballot_id="a", body_id="x"),
            ]
        )
    )
    assert [e.position for e in sent] == [12, 13, 14]


def test_a_frame_carries_the_log_position_as_id_and_no_correlation_id() -> None:
    (sent,) = to_sent([entry(42, "ballot.opened", ballot_id="a", body_id="x")])
    text = sent.frame.decode()
    assert text.startswith("id: 42\nevent: ballot.opened\ndata: ") and text.endswith("\n\n")
    payload = json.loads(text.split("data: ", 1)[1])
    assert payload["data"] == {"ballot_id": "a", "body_id": "x"}
    assert "secret-trace" not in text


def test_a_page_goes_to_every_client_as_one_chunk_after_its_start() -> None:
    hub = live_broadcaster(cursor=10)
    early, _ = hub.subscribe(None)
    hub._publish([entry(11, "ballot.opened", ballot_id="a", body_id="x"), entry(12, "motion.tabled", body_id="x")])
    late, backlog = hub.subscribe(None)
    hub._publish([entry(13, "vote.recorded", ballot_id="a", votes_cast=1)])

    assert (early.start, late.start, backlog) == (10, 12, [])
    assert ids(early.queue.get_nowait()) == [11, 12] and ids(early.queue.get_nowait()) == [13]
    assert ids(late.queue.get_nowait()) == [13] and late.queue.empty()
    assert hub.cursor == 13


def test_a_client_that_reconnects_catches_up_from_memory_coalesced() -> None:
    hub = live_broadcaster(cursor=10)
    hub._publish([entry(11, "vote.recorded", ballot_id="a", votes_cast=1)])
    hub._publish([entry(12, "vote.recorded", ballot_id="a", votes_cast=2), entry(13, "ballot.closed", ballot_id="a")])

    client, backlog = hub.subscribe(11)
    assert client.start == 13
    assert [e.position for e in backlog or []] == [12, 13]
    _, nothing_missed = hub.subscribe(13)
    assert nothing_missed == []


def test_a_client_older_than_memory_is_sent_to_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "RING", 2)
    hub = live_broadcaster(cursor=10)
    for position in (11, 12, 13):
        hub._publish([entry(position, "motion.tabled", body_id="x")])
    assert hub.ring_floor == 11
    _, backlog = hub.subscribe(10)
    assert backlog is None
    _, backlog = hub.subscribe(11)
    assert [e.position for e in backlog or []] == [12, 13]


def test_a_slow_client_is_dropped_and_never_holds_back_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CLIENT_BACKLOG", 3)
    hub = live_broadcaster()
    slow, _ = hub.subscribe(None)
    fast, _ = hub.subscribe(None)
    for position in range(11, 16):
        hub._publish([entry(position, "motion.tabled", body_id="x")])
        fast.queue.get_nowait()

    assert slow not in hub.clients and fast in hub.clients
    # Its stream ends (the browser then reconnects from its last id), after nothing more than `ready`.
    body = frames(hub, slow, [])
    assert next(body).endswith(b'event: ready\ndata: {"position": 10}\n\n')
    assert list(body) == []


def test_the_log_head_is_found_with_few_reads() -> None:
    positions = list(range(1, 50_000, 7))
    reads = []

    class Feed:
        def read(self, after: int, limit: int) -> list[dict[str, Any]]:
            reads.append(after)
            return [entry(p, "motion.tabled") for p in positions if p > after][:limit]

    hub = Broadcaster()
    hub.feed = Feed()  # type: ignore[assignment]
    assert hub._head() == positions[-1]
    assert len(reads) < 40
    hub_of_empty_log = Broadcaster()
    positions = []
    hub_of_empty_log.feed = Feed()  # type: ignore[assignment]
    assert hub_of_empty_log._head() == 0


def test_catching_up_from_the_log_stops_at_the_clients_start_and_in_bounded_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = [entry(p, "vote.recorded", ballot_id="a", votes_cast=p) for p in range(1, 101)]

    def read(after: int, limit: int) -> list[dict[str, Any]]:
        return [e for e in log if e["position"] > after][:limit]

    monkeypatch.setattr(stream, "PAGE", 10)
    missed, complete = catch_up(read, 5, 40)
    assert complete and [e.position for e in missed] == [40]
    monkeypatch.setattr(stream, "CATCH_UP_PAGES", 2)
    missed, complete = catch_up(read, 5, 90)
    assert not complete and [e.position for e in missed] == [25]


def test_one_question_answers_a_herd_and_an_event_makes_it_forget() -> None:
    cache = ShortCache()
    asked = []

    def ask() -> str:
        asked.append(1)
        eventlet.sleep(0.01)
        return f"answer {len(asked)}"

    answers = [eventlet.spawn(cache.get, "k", 5.0, ask) for _ in range(20)]
    assert {a.wait() for a in answers} == {"answer 1"} and len(asked) == 1
    assert cache.get("k", 5.0, ask) == "answer 1"
    cache.forget("k")
    assert cache.get("k", 5.0, ask) == "answer 2"

    # An answer asked for before an event that changed it is given, but not kept.
    slow = eventlet.spawn(cache.get, "j", 5.0, ask)
    eventlet.sleep(0)
    cache.forget("j")
    assert slow.wait() == "answer 3"
    assert cache.get("j", 5.0, ask) == "answer 4"


def test_the_stream_sends_only_events_the_api_calls_public() -> None:
    from gateway.service import PUBLIC_EVENTS

    assert set(stream.STREAM_TYPES) <= PUBLIC_EVENTS


# The stream against the stack


class Reader:
    """A raw SSE reader (HTTP/1.0: the body is the bare stream) that parses frames."""

    def __init__(self, url: str, last_event_id: int | None = None, after: int | None = None) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        headers = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        path = "/api/v1/stream" + (f"?after={after}" if after is not None else "")
        self.sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n{headers}\r\n".encode())
        self.buffer = b""
        head = self._until(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n", 1)[0], head

    def _until(self, mark: bytes) -> bytes:
        while mark not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the stream ended")
            self.buffer += chunk
        found, self.buffer = self.buffer.split(mark, 1)
        return found

    def events(self) -> Iterator[dict[str, Any]]:
        while True:
            fields: dict[str, Any] = {}
            for line in self._until(b"\n\n").decode().split("\n"):
                name, _, value = line.partition(": ")
                if name in ("id", "event", "data"):
                    fields[name] = value
            if "event" in fields:
                fields["id"] = int(fields["id"]) if "id" in fields else None
                fields["data"] = json.loads(fields["data"])
                yield fields

    def until(self, event_type: str) -> list[dict[str, Any]]:
        seen = []
        for event in self.events():
            seen.append(event)
            if event["event"] == event_type:
                return seen
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.sock.close()


def voting_log(hall: Hall, after: int, types: str) -> list[dict[str, Any]]:
    return requests.get(
        f"{hall.url}/api/v1/events/voting",
        params={"after": after, "types": types},
        headers={"Authorization": f"Bearer {hall.stack.admin_token}"},
        timeout=30,
    ).json()["events"]


def ready_id(hall: Hall) -> int:
    """Where the gateway's stream is in the log: a new client's `ready` says."""
    reader = Reader(hall.url)
    try:
        return reader.until("ready")[-1]["id"]
    finally:
        reader.close()


def vote(hall: Hall, ballot_id: str, auth: str) -> None:
    answer = requests.post(
        f"{hall.url}/api/v1/ballots/{ballot_id}/votes",
        json={"choice": "yes"},
        headers={"Authorization": auth},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.e2e
def test_a_client_that_reconnects_with_last_event_id_misses_nothing_and_gets_nothing_twice(hall: Hall) -> None:
    congress = congress_in_session(hall.stack, 4)
    first = Reader(hall.url)
    start = first.until("ready")[-1]["id"]
    _, ballot = table_and_open(hall.stack, congress.body_id)
    vote(hall, ballot["id"], congress.delegates[0].auth)
    seen = first.until("vote.recorded")
    last = seen[-1]["id"]
    assert [e["event"] for e in seen] == ["motion.tabled", "ballot.opened", "vote.recorded"]
    assert all(e["id"] > start for e in seen) and [e["id"] for e in seen] == sorted(e["id"] for e in seen)
    first.close()

    # While away: two more votes and the close.
    vote(hall, ballot["id"], congress.delegates[1].auth)
    vote(hall, ballot["id"], congress.delegates[2].auth)
    assert requests.post(
        f"{hall.url}/api/v1/ballots/{ballot['id']}/close",
        headers={"Authorization": f"Bearer {hall.stack.admin_token}"},
        timeout=60,
    ).ok
    # The gateway reads the log as the relay numbers it: once a new client's "ready" is past the
    # close, all it missed is in the gateway's memory, and a catch-up coalesces it in one go.
    decided = voting_log(hall, last, "motion.decided")
    closed_at = next(e["position"] for e in decided if e["event"]["data"]["ballot_id"] == ballot["id"])
    eventually(lambda: ready_id(hall) >= closed_at, what="the gateway's stream to read the close")

    again = Reader(hall.url, last_event_id=last)
    missed = [e for e in again.until("motion.decided") if e["event"] != "ready"]
    again.close()
    mine = [e for e in missed if e["data"]["data"].get("ballot_id") == ballot["id"]]
    assert [(e["event"], e["data"]["data"].get("votes_cast")) for e in mine] == [
        ("vote.recorded", 3),  # the two turnouts coalesced into the latest
        ("ballot.closed", 3),
        ("motion.decided", None),
    ]
    assert all(e["id"] > last for e in missed)
    # The ids are the voting log's positions: the replay API finds the same events there.
    logged = voting_log(hall, last, "ballot.closed,motion.decided")
    positions = {e["event"]["data"]["ballot_id"]: [] for e in logged}
    for logged_entry in logged:
        positions[logged_entry["event"]["data"]["ballot_id"]].append(logged_entry["position"])
    assert positions[ballot["id"]] == [e["id"] for e in mine[1:]]


@pytest.mark.e2e
def test_open_streams_hold_no_worker_and_carry_no_personal_data(hall: Hall) -> None:
    readers = [Reader(hall.url, after=0) for _ in range(25)]  # more than the gateway's 10 workers
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: requests.get(hall.url + "/health", timeout=10), range(8)))
        assert all(a.status_code == 200 for a in answers)
        assert time.monotonic() - started < 5
        caught = readers[0].until("ready")
        congress_in_session(hall.stack, 2)  # accreditations: their events carry emails
        caught += readers[0].until("congress.in_session")
        kinds = {e["event"] for e in caught}
        assert kinds <= set(stream.STREAM_TYPES) | {"ready"}
        assert "@" not in json.dumps([e["data"] for e in caught])
    finally:
        for reader in readers:
            reader.close()


@pytest.mark.e2e
def test_a_position_that_is_not_one_is_a_400_naming_it_as_the_document_says(hall: Hall) -> None:
    """The stream's declaration is what the gateway serves: its statuses and its content type."""
    for params, headers, name in (
        ({"after": "x"}, {}, "after"),
        ({"after": "-1"}, {}, "after"),
        ({}, {"Last-Event-ID": "x"}, "Last-Event-ID"),
        ({"after": "3"}, {"Last-Event-ID": "²"}, "Last-Event-ID"),
        ({}, {"Last-Event-ID": str(2**63)}, "Last-Event-ID"),
    ):
        answer = requests.get(f"{hall.url}/api/v1/stream", params=params, headers=headers, timeout=30)
        assert answer.status_code == 400, (params, headers, answer.text)
        assert answer.headers["Content-Type"] == "application/json"
        assert name in answer.json()["error"]["fields"], answer.text
    document = requests.get(f"{hall.url}/api/openapi.json", timeout=30).json()
    live = document["paths"]["/api/v1/stream"]["get"]
    assert live["operationId"] == "live_stream" and live["security"] == []
    assert list(live["responses"]["200"]["content"]) == ["text/event-stream"]
    assert {"200", "400", "503"} <= live["responses"].keys()
    assert {(p["in"], p["name"]) for p in live["parameters"]} == {("query", "after"), ("header", "Last-Event-ID")}
