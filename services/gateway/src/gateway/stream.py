"""The public live stream (`GET /api/v1/stream`): server-sent events whose ids are the voting
service's event-log positions.

One `Broadcaster` per gateway process:

- a **doorbell**: a kombu consumer on an exclusive, auto-delete queue `gateway.stream-<uuid>`
  bound to `voting.events` for the public types. A message only says "something new was
  committed"; its body is never trusted or forwarded.
- a **pump**: on each ring (and every few seconds anyway, in case a ring was lost while the broker
  reconnected) it reads the log after its cursor with `voting.replay_events`. The relay numbers
  events into the log as they become visible, one batch after another, so reading "after the
  cursor" misses nothing and repeats nothing, and every event it forwards carries its real
  position. The read runs in a nameko worker (`StreamFeed`), so the RPC is signed like any other.
- a **fan-out**: each page becomes one pre-encoded chunk, put without blocking on every client's
  own bounded queue. A client whose queue is full is dropped (its connection ends, the browser
  reconnects with `Last-Event-ID` and catches up); it never holds the others back. Turnout is
  coalesced: in a page, and in a catch-up, only the latest `vote.recorded` of a ballot is sent.
- a **ring** of the last events sent, so a client that reconnects after a short break catches
  up from memory; one that was away longer is caught up from the log, page by page.

The HTTP worker only subscribes and returns a werkzeug `Response` whose body is a generator:
eventlet's WSGI server iterates it in the connection's own greenthread after the worker has
finished, so a thousand open streams hold no nameko worker.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import eventlet
from eventlet.event import Event
from eventlet.queue import Empty, Full, LightQueue
from kombu import Connection, Exchange, Queue, binding
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider, Entrypoint, SharedExtension
from prometheus_client import Counter, Gauge

from congress.contract.catalogue import PUBLIC_EVENT_TYPES, producer_of
from congress.rpc import ServiceUnavailable

log = logging.getLogger(__name__)

PRODUCER = "voting"
# What the hall and the voting page need: the voting service's public events.
STREAM_TYPES = tuple(t for t in PUBLIC_EVENT_TYPES if producer_of(t) == PRODUCER)
PAGE = 500  # events per replay call
RING = 4096  # events kept in memory for clients that reconnect
CLIENT_BACKLOG = 256  # chunks a client may have unread before it is dropped
CATCH_UP_PAGES = 20  # log pages read for one reconnecting client; beyond that it reconnects again
HEARTBEAT = 15.0  # seconds between comments on an idle stream (proxies close silent connections)
SAFETY_POLL = 3.0  # seconds: read the log even when no doorbell rang
MIN_GAP = 0.02  # seconds between two reads of the log, plus a little per client (fan-out costs)
GAP_PER_CLIENT = 0.0001
RETRY_MS = 1000  # the browser's reconnection delay

STREAM_CLIENTS = Gauge("congress_stream_clients", "Clients connected to the live stream")
STREAM_DROPPED = Counter("congress_stream_dropped_total", "Stream clients dropped because they read too slowly")
STREAM_EVENTS = Counter("congress_stream_events_total", "Events sent on the live stream (after coalescing)")


def frame(position: int, envelope: dict[str, Any]) -> bytes:
    """One SSE event: the public part of the envelope (no correlation id) under its log position."""
    public = {
        "type": envelope["type"],
        "version": envelope.get("version", 1),
        "occurred_at": envelope.get("occurred_at"),
        "data": envelope.get("data", {}),
    }
    return f"id: {position}\nevent: {envelope['type']}\ndata: {json.dumps(public)}\n\n".encode()


def ready_frame(position: int) -> bytes:
    """Sent once a client is caught up: its id is where the client is, even if nothing happens."""
    return f"retry: {RETRY_MS}\nid: {position}\nevent: ready\ndata: {json.dumps({'position': position})}\n\n".encode()


@dataclass(frozen=True)
class Sent:
    """An event as the stream sends it, with what coalescing and the hall need to know of it."""

    position: int
    type: str
    ballot_id: str | None
    body_id: str | None
    congress_id: str | None
    frame: bytes


def to_sent(entries: list[dict[str, Any]]) -> list[Sent]:
    sent = []
    for entry in entries:
        envelope, data = entry["event"], entry["event"].get("data", {})
        position = entry["position"]
        sent.append(
            Sent(
                position,
                envelope["type"],
                data.get("ballot_id"),
                data.get("body_id"),
                data.get("congress_id"),
                frame(position, envelope),
            )
        )
    return sent


def coalesce(events: list[Sent]) -> list[Sent]:
    """Keep every event but the superseded turnouts: the latest `vote.recorded` of a ballot says it all."""
    latest = {e.ballot_id: e.position for e in events if e.type == "vote.recorded"}
    return [e for e in events if e.type != "vote.recorded" or latest[e.ballot_id] == e.position]


class ShortCache:
    """Answers of the pages' read-only RPCs, kept for a moment in the gateway process.

    When a ballot opens, every delegate's page asks for its ballots at once: one RPC per key
    answers them all (the others wait for it). The broadcaster forgets what an event changes
    before the event reaches any page, so a page that reloads on an event reads fresh answers.
    A closed ballot never changes and is kept for good."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._kept: dict[Any, tuple[float, Any]] = {}
        self._asking: dict[Any, Event] = {}
        self._generation: dict[Any, int] = {}

    def get(self, key: Any, ttl: float, ask: Callable[[], Any]) -> Any:
        """The kept answer if younger than `ttl` (0: only one kept for good), else a new one."""
        kept = self._kept.get(key)
        if kept is not None and (kept[0] == math.inf or (ttl > 0 and kept[0] > time.monotonic())):
            return kept[1]
        if key in self._asking:
            return self._asking[key].wait()
        generation = self._generation.get(key, 0)
        asking = self._asking[key] = Event()
        try:
            value = ask()
        except BaseException as exc:
            asking.send_exception(exc)
            raise
        finally:
            del self._asking[key]
        # An answer asked before an event that changed it is not kept.
        if ttl > 0 and self._generation.get(key, 0) == generation:
            if len(self._kept) >= self.max_entries:
                self._kept.clear()  # rare; simpler than LRU and always correct
            self._kept[key] = (time.monotonic() + ttl, value)
        asking.send(value)
        return value

    def forever(self, key: Any, value: Any) -> None:
        self._kept[key] = (math.inf, value)

    def forget(self, key: Any) -> None:
        self._kept.pop(key, None)
        if len(self._generation) >= self.max_entries:
            self._generation.clear()
        self._generation[key] = self._generation.get(key, 0) + 1

    def forget_what_changed(self, events: list[Sent]) -> None:
        for event in events:
            if event.type == "vote.recorded":
                continue  # turnout: pages take it from the stream itself
            for key in (
                ("ballot", event.ballot_id),
                ("motions", event.body_id),
                ("elections", event.body_id),
                ("body", event.body_id),
                ("congress", event.congress_id),
            ):
                if key[1]:
                    self.forget(key)
            if event.type.startswith("congress."):
                self.forget("bodies")


@dataclass(eq=False)
class Client:
    start: int  # the position this client is live from
    queue: LightQueue = field(default_factory=lambda: LightQueue(CLIENT_BACKLOG))


class Broadcaster(SharedExtension):
    """The one broadcaster of a gateway process (shared by `StreamFeed` and `StreamHub`)."""

    def __init__(self) -> None:
        self.feed: StreamFeed | None = None
        self.cursor: int | None = None  # the position of the last event read from the log
        self.ring: deque[Sent] = deque()
        self.ring_floor = 0  # the ring holds every public event after this position
        self.clients: set[Client] = set()
        self.last_closed: dict[str, str] = {}  # body id -> ballot id, as seen since this process started
        self.answers = ShortCache()
        self._ready = Event()
        self._wake: LightQueue = LightQueue(maxsize=1)
        self._running = False
        self._last_read = 0.0

    def setup(self) -> None:
        self.amqp_uri = self.container.config["AMQP_URI"]

    def start(self) -> None:
        self._running = True
        self.container.spawn_managed_thread(self._pump_forever, identifier="stream.pump")
        self.container.spawn_managed_thread(self._doorbell_forever, identifier="stream.doorbell")

    def stop(self) -> None:
        self._running = False
        self.ring_doorbell()
        for client in list(self.clients):
            self._end(client)

    def kill(self) -> None:
        self.stop()

    # Clients

    def wait_ready(self, timeout: float) -> bool:
        if self._ready.ready():
            return True
        with eventlet.Timeout(timeout, False):
            self._ready.wait()
            return True
        return False

    def subscribe(self, after: int | None) -> tuple[Client, list[Sent] | None]:
        """A new client, live from the current cursor, and what it missed if memory has it.

        No greenthread switch happens in here, so no page can be fanned out between taking the
        cursor and joining: the client gets every event after `client.start` exactly once.
        The backlog is None when `after` is older than the ring: read the log (`catch_up`)."""
        assert self.cursor is not None
        client = Client(start=self.cursor)
        backlog: list[Sent] | None = []
        if after is not None and after < self.cursor:
            backlog = coalesce([e for e in self.ring if e.position > after]) if after >= self.ring_floor else None
        self.clients.add(client)
        STREAM_CLIENTS.set(len(self.clients))
        return client, backlog

    def unsubscribe(self, client: Client) -> None:
        self.clients.discard(client)
        STREAM_CLIENTS.set(len(self.clients))

    def _end(self, client: Client) -> None:
        """Empty the client's queue and leave it the end-of-stream mark."""
        self.unsubscribe(client)
        while True:
            try:
                client.queue.get_nowait()
            except Empty:
                break
        client.queue.put_nowait(None)

    # The log

    def ring_doorbell(self, *_: Any) -> None:
        try:
            self._wake.put_nowait(True)
        except Full:
            pass  # a read is already due

    def _read(self, after: int, limit: int) -> list[dict[str, Any]]:
        if self.feed is None:
            raise RuntimeError("the gateway has no @stream_feed method to read the event log with")
        return self.feed.read(after, limit)

    def _head(self) -> int:
        """The position of the last public event in the log, in O(log n) one-event reads."""
        low, probe = 0, 1024
        while True:  # find a position past the head
            found = self._read(probe, 1)
            if not found:
                break
            low, probe = found[0]["position"], found[0]["position"] * 4
        high = probe
        while low < high:  # `low` is an event (or 0), nothing is after `high`
            middle = (low + high) // 2
            found = self._read(middle, 1)
            if found:
                low = found[0]["position"]
            else:
                high = middle
        return low

    def _pump_forever(self) -> None:
        backoff = 0.5
        while self._running:
            try:
                if self.cursor is None:
                    self.cursor = self.ring_floor = self._head()
                    self._ready.send(True)
                    log.info("stream: live from position %d of the %s log", self.cursor, PRODUCER)
                self._catch_up()
                backoff = 0.5
            except ContainerBeingKilled:
                return
            except Exception as exc:  # voting or the broker away: keep the clients, try again
                log.warning("stream: cannot read the %s event log yet (%s); retrying in %.1fs", PRODUCER, exc, backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            try:
                self._wake.get(timeout=SAFETY_POLL)
            except Empty:
                pass
            # Under a flood of votes, read in batches: each read fans out to every client.
            gap = MIN_GAP + GAP_PER_CLIENT * len(self.clients) - (time.monotonic() - self._last_read)
            if gap > 0:
                eventlet.sleep(gap)

    def _catch_up(self) -> None:
        while self._running:
            self._last_read = time.monotonic()
            entries = self._read(self.cursor or 0, PAGE)
            if entries:
                self._publish(entries)
            if len(entries) < PAGE:
                return

    def _publish(self, entries: list[dict[str, Any]]) -> None:
        """Fan one page out to every client; no greenthread switch until it is done."""
        sent = coalesce(to_sent(entries))
        self.answers.forget_what_changed(sent)
        for event in sent:
            self.ring.append(event)
            if event.type == "ballot.closed" and event.body_id and event.ballot_id:
                self.last_closed[event.body_id] = event.ballot_id
        while len(self.ring) > RING:
            self.ring_floor = self.ring.popleft().position
        self.cursor = entries[-1]["position"]
        chunk = b"".join(event.frame for event in sent)
        STREAM_EVENTS.inc(len(sent))
        for client in list(self.clients):
            try:
                client.queue.put_nowait(chunk)
            except Full:
                STREAM_DROPPED.inc()
                log.info("stream: dropped a client %d chunks behind", CLIENT_BACKLOG)
                self._end(client)

    # The doorbell

    def _doorbell_forever(self) -> None:
        exchange = Exchange(f"{PRODUCER}.events", type="topic", durable=True, passive=True)
        backoff = 1.0
        while self._running:
            queue = Queue(
                f"gateway.stream-{uuid.uuid4().hex}",
                bindings=[binding(exchange, routing_key=event_type) for event_type in STREAM_TYPES],
                exclusive=True,
                auto_delete=True,
                durable=False,
            )
            try:
                with Connection(self.amqp_uri, heartbeat=20, connect_timeout=5) as conn:
                    # on_message: the body is never decoded (it is never read), only the ring counts.
                    with conn.Consumer(queue, on_message=self.ring_doorbell, no_ack=True):
                        self.ring_doorbell()  # whatever was committed while nobody listened
                        backoff = 1.0
                        while self._running:
                            try:
                                conn.drain_events(timeout=1.0)
                            except TimeoutError:
                                pass
                            conn.heartbeat_check()  # also while busy: a consumer sends nothing else
            except Exception as exc:  # the broker away, or voting.events not declared yet
                if not self._running:
                    return
                log.warning(
                    "stream: doorbell not listening (%s); the log is read every %.0fs meanwhile", exc, SAFETY_POLL
                )
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


class StreamFeed(Entrypoint):
    """Marks the service method that reads the event log for the broadcaster; runs it in a worker."""

    broadcaster = Broadcaster()

    def __init__(self, **kwargs: Any) -> None:
        # Voting away is expected (a restart): the pump says so once per retry, not as a crash.
        kwargs.setdefault("expected_exceptions", (ServiceUnavailable,))
        super().__init__(**kwargs)

    def setup(self) -> None:
        self.broadcaster.feed = self

    def read(self, after: int, limit: int) -> list[dict[str, Any]]:
        done = Event()

        def handle_result(worker_ctx: Any, result: Any, exc_info: Any) -> tuple[Any, Any]:
            done.send(result, exc_info)
            return result, exc_info

        self.container.spawn_worker(
            self, (after, limit), {}, context_data={"correlation_id": "stream"}, handle_result=handle_result
        )
        return done.wait()


stream_feed = StreamFeed.decorator


class StreamHub(DependencyProvider):
    """Gives workers the process's broadcaster (to subscribe clients)."""

    broadcaster = Broadcaster()

    def get_dependency(self, worker_ctx: Any) -> Broadcaster:
        return self.broadcaster


def catch_up(read: Callable[[int, int], list[dict[str, Any]]], after: int, until: int) -> tuple[list[Sent], bool]:
    """What a client missed in (after, until], read from the log; False if it is too much for once."""
    missed: list[Sent] = []
    position = after
    for _ in range(CATCH_UP_PAGES):
        page = read(position, PAGE)
        missed.extend(to_sent([e for e in page if e["position"] <= until]))
        if len(page) < PAGE or page[-1]["position"] >= until:
            return coalesce(missed), True
        position = page[-1]["position"]
    return coalesce(missed), False


def frames(broadcaster: Broadcaster, client: Client | None, backlog: list[Sent]) -> Iterator[bytes]:
    """The response body: what was missed, `ready`, then live chunks and heartbeats until either
    side ends. With no client (too far behind for one go) it sends the backlog and ends: the
    browser reconnects from the last id it got."""
    try:
        missed = b"".join(event.frame for event in backlog)
        if client is None:
            yield f"retry: {RETRY_MS}\n\n".encode() + missed
            return
        yield missed + ready_frame(client.start)
        while True:
            try:
                item = client.queue.get(timeout=HEARTBEAT)
            except Empty:
                yield b": keep-alive\n\n"
                continue
            if item is None:
                return
            yield item
    finally:  # the client left (the server's write failed) or was dropped
        if client is not None:
            broadcaster.unsubscribe(client)
