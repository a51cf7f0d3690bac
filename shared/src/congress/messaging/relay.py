"""The outbox relay: numbers committed events into the producer's log, then publishes the log in
order with publisher confirms.

Writers of events take no lock: an outbox row's `position` is only its insertion id, and
transactions commit in any order. The relay, in one short transaction, takes the events not yet
numbered (by `position`), gives them the next log positions in that order, applies their stamps
(a counter of `event_counters` written into the event) and commits. An event that commits late is
numbered after every event numbered before it, so a reader of the log "after N" never misses it.
Numbers are given before anything is published and never again: a crash between numbering and
publishing publishes the same event, with the same position and stamp, on the next run.

Publishing follows `log_position`. An event is marked sent only after the broker confirmed it, so
a crash or a broker outage between publish and mark gives a duplicate (subscribers drop it by
`event_id`), never a loss. A batch is published and then its confirms are awaited together; a
nack, a timeout or a lost connection leaves every event from the first unconfirmed one on unsent,
and they are published again, in order. (A nack is RabbitMQ's report of an internal error in a
queue: the one case where a later event of the same batch may reach a subscriber before the
nacked event's second publication does.)

On PostgreSQL, a session advisory lock lets one replica relay at a time, which makes it the one
numberer and keeps the per-producer order; the others stand by and take over if it dies. Each
batch starts with a statement on the lock's own session, which fails if that session (and so the
lock) was lost. SQLite has one writer, and one relay.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from amqp import spec
from kombu import Connection
from sqlalchemy.dialects import postgresql, sqlite

from congress.messaging import topology
from congress.messaging.store import EVENT_COUNTERS, OUTBOX, is_postgres
from congress.messaging.tables import Position
from congress.metrics import EVENTS_PUBLISHED, OUTBOX_PENDING
from congress.proof import EVENT_PROOF, canonical, digest_of, sign_event

log = logging.getLogger(__name__)

# Unsent events: those numbered already (a failed try) in log order, then new ones in insertion order.
_PENDING = (
    sa.select(OUTBOX.c.position, OUTBOX.c.log_position, OUTBOX.c.envelope, OUTBOX.c.stamp)
    .where(OUTBOX.c.published_at.is_(None))
    .order_by(OUTBOX.c.log_position.is_(None), OUTBOX.c.log_position, OUTBOX.c.position)
)
_COUNT_PENDING = sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None))
COUNTERS_KEPT = 10_000  # stamp counters the leader keeps in memory


class NotConfirmed(Exception):
    """The broker did not confirm a whole batch: only its first `confirmed` events are safe."""

    def __init__(self, confirmed: int, reason: str) -> None:
        super().__init__(f"{confirmed} event(s) confirmed, then: {reason}")
        self.confirmed = confirmed


class EventPublisher:
    """A kombu connection to one producer's events exchange; a batch's confirms awaited together.

    The channel is in confirm mode: the broker numbers the messages published on it 1, 2, 3, …
    and acks (or nacks) them, one or many at a time. Any failure closes the connection, so the
    numbering starts again on a fresh channel and no late ack is taken for another message.
    """

    def __init__(self, amqp_uri: str, producer: str, timeout: float = 10.0) -> None:
        self.amqp_uri = amqp_uri
        self.producer = producer
        self.timeout = timeout
        self.exchange = topology.events_exchange(producer)
        self._connection: Connection | None = None
        self._channel: Any = None  # in confirm mode
        self._next_tag = 1
        self._unconfirmed: set[int] = set()
        self._nacked: set[int] = set()

    def _connect(self) -> tuple[Connection, Any]:
        if self._connection is None or self._channel is None:
            connection = Connection(self.amqp_uri, connect_timeout=self.timeout)
            try:
                connection.ensure_connection(max_retries=1)
                channel = connection.channel()
                self.exchange(channel).declare()
                for queue in topology.queues_fed_by(self.producer):
                    queue(channel).declare()
                channel.confirm_select()
                channel.events["basic_ack"].add(self._on_ack)
                channel.events["basic_nack"].add(self._on_nack)
            except Exception:
                self._release(connection)
                raise
            self._connection = connection
            self._channel = channel
            self._next_tag = 1
            self._unconfirmed = set()
            self._nacked = set()
        return self._connection, self._channel

    def _settle(self, tag: int, multiple: bool) -> set[int]:
        if multiple:
            settled = {t for t in self._unconfirmed if t <= tag or tag == 0}
        else:
            settled = {tag} & self._unconfirmed
        self._unconfirmed -= settled
        return settled

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked |= self._settle(delivery_tag, multiple)

    def publish(self, envelope: dict[str, Any]) -> None:
        self.publish_batch([envelope])

    def publish_batch(self, envelopes: Sequence[dict[str, Any]]) -> None:
        """Publish in order and wait for every confirm; NotConfirmed says how many are safe."""
        tags: list[int] = []
        try:
            connection, channel = self._connect()
            # A broker that stops reading fails the batch within `timeout`, never holds the relay.
            with channel.connection.transport.having_timeout(self.timeout):
                for envelope in envelopes:
                    tag = self._next_tag
                    self._unconfirmed.add(tag)  # before the frame goes: its ack may come at any read
                    self._next_tag += 1
                    tags.append(tag)
                    self._send(channel, envelope)
            deadline = time.monotonic() + self.timeout
            while self._unconfirmed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no confirm within {self.timeout:.0f}s")
                connection.drain_events(timeout=remaining)
            if self._nacked:
                raise RuntimeError("the broker nacked an event")
        except Exception as exc:
            confirmed = self._confirmed_prefix(tags)
            self.close()
            raise NotConfirmed(confirmed, f"{type(exc).__name__}: {exc}") from exc

    def _confirmed_prefix(self, tags: list[int]) -> int:
        confirmed = 0
        for tag in tags:
            if tag in self._unconfirmed or tag in self._nacked:
                break
            confirmed += 1
        return confirmed

    def _send(self, channel: Any, envelope: dict[str, Any]) -> None:
        # The body is the envelope's canonical JSON, which its proof digests: written once, not
        # once for the digest and again by kombu. The message is kombu's for a JSON body.
        body = canonical(envelope)
        headers = {
            EVENT_PROOF: sign_event(self.producer, envelope, envelope_digest=digest_of(body)),
            "nameko.correlation_id": envelope.get("correlation_id"),
            "nameko.call_id_stack": [f"{self.producer}.relay.{envelope['event_id']}"],
        }
        message = channel.prepare_message(
            body, 0, "application/json", "utf-8", headers, {"delivery_mode": 2, "message_id": envelope["event_id"]}
        )
        # Basic.Publish as py-amqp's basic_publish sends it, without the poll for a "connection
        # blocked" notice it makes before every message: under eventlet that poll hands the loop
        # to every other greenthread, once per event. The wait for confirms reads such a notice.
        channel.send_method(
            spec.Basic.Publish, "Bssbb", (0, self.exchange.name, envelope["type"], False, False), message
        )

    def close(self) -> None:
        if self._connection is not None:
            self._release(self._connection)
        self._connection = None
        self._channel = None
        self._unconfirmed = set()
        self._nacked = set()

    @staticmethod
    def _release(connection: Connection) -> None:
        try:
            connection.release()
        except Exception:  # a dead socket may fail to close; it is gone either way
            log.debug("closing a broken publisher connection failed", exc_info=True)


class RelayReport:
    """Where the relay's figures go: this process's metrics. A relay in a process of its own
    (relay_process.py) sends them to the service's process instead, which serves /metrics."""

    def pending(self, count: int) -> None:
        OUTBOX_PENDING.set(count)

    def published(self, by_type: dict[str, int]) -> None:
        for event_type, count in by_type.items():
            EVENTS_PUBLISHED.labels(event_type).inc(count)


class OutboxRelay:
    """The producer's relay. On PostgreSQL a replica leads while it holds the session advisory lock
    on a connection of its own: leadership is kept from one call to the next (the leader polls
    often, so it takes up events every replica commits), and lost only with that connection or at
    `close()`; the others try for it now and then (standby)."""

    def __init__(
        self, engine: sa.Engine, publisher: EventPublisher, batch: int = 200, report: RelayReport | None = None
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.batch = batch
        self.report = report or RelayReport()
        self._lock_key = zlib.crc32(f"outbox-relay:{publisher.producer}".encode())
        self._held: sa.Connection | None = None  # the leader's connection, which holds the lock
        self._top: int | None = None  # while leading: the log's last position
        self._stood_by = False  # the last try for the lead found another leader
        self._counters: dict[str, int] = {}  # while leading: stamp counters' values

    @property
    def standing_by(self) -> bool:
        """Another replica holds PostgreSQL's relay lock (as of the last try)."""
        return is_postgres(self.engine) and self._held is None and self._stood_by

    @property
    def leading(self) -> bool:
        """Holds PostgreSQL's relay lock now (SQLite's single relay needs none: False)."""
        return self._held is not None

    def relay_pending(self) -> int:
        """Number and publish what is unsent; returns how many were confirmed (0 on a standby).
        Raises if the broker or the database fails; leadership goes with a failed connection."""
        if not is_postgres(self.engine):
            with self.engine.connect() as conn:
                return self._relay(conn)
        conn = self._lead()
        if conn is None:
            return 0
        try:
            return self._relay(conn)
        except Exception:
            self.close_leadership()
            raise

    def _lead(self) -> sa.Connection | None:
        if self._held is None:
            conn = self.engine.connect()
            try:
                leader = conn.scalar(sa.select(sa.func.pg_try_advisory_lock(self._lock_key)))
                conn.commit()
            except Exception:
                conn.invalidate()
                conn.close()
                raise
            self._stood_by = not leader
            if not leader:
                conn.close()
                return None
            self._held = conn
            log.info("relay: leading the %s outbox", self.publisher.producer)
        return self._held

    def close_leadership(self) -> None:
        """Give the lock up: the connection is closed, never pooled with the lock on it."""
        conn, self._held = self._held, None
        self._forget()
        if conn is None:
            return
        try:
            conn.invalidate()  # closing the session releases its advisory locks
            conn.close()
        except Exception:  # a dead connection is gone either way
            log.debug("closing the relay leader's connection failed", exc_info=True)

    def _relay(self, conn: sa.Connection) -> int:
        """Batch after batch until nothing is pending. A batch's "sent" marks are written in the
        next batch's transaction (one transaction a batch, not two); a crash before that gives
        duplicates, which subscribers drop by event_id, never a loss."""
        sent = 0
        marks: list[int] = []  # published and confirmed, not yet marked sent
        try:
            while True:
                # On the lock's session: if it was lost (and another replica may lead), this fails.
                if marks:
                    self._mark_sent(conn, marks)
                    marks = []
                batch, more = self._take_batch(conn)
                conn.commit()  # no transaction stays open while we wait on the broker
                if not batch:
                    self.report.pending(0)
                    return sent
                if more:
                    pending = conn.scalar(_COUNT_PENDING)
                    conn.commit()
                    self.report.pending(pending or 0)
                else:
                    self.report.pending(len(batch))  # everything committed and unsent is in this batch
                confirmed = 0
                try:
                    self.publisher.publish_batch([envelope for _, envelope in batch])
                    confirmed = len(batch)
                except NotConfirmed as exc:
                    confirmed = exc.confirmed
                    raise
                finally:
                    marks = [position for position, _ in batch[:confirmed]]
                    sent += confirmed
                    if confirmed:
                        self.report.published(Counter(envelope["type"] for _, envelope in batch[:confirmed]))
        finally:
            if marks:
                try:
                    self._mark_sent(conn, marks)
                    conn.commit()
                except Exception:  # they go again later: duplicates, dropped by event_id
                    log.warning("relay: %d published event(s) could not be marked sent", len(marks), exc_info=True)

    def _mark_sent(self, conn: sa.Connection, positions: list[int]) -> None:
        conn.execute(OUTBOX.update().where(OUTBOX.c.position.in_(positions)).values(published_at=datetime.now(UTC)))

    def _take_batch(self, conn: sa.Connection) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
        """The next events to publish, (position, envelope) in log order: those numbered but not
        sent yet (a failed try), then new ones, numbered and stamped now. And whether more wait."""
        rows = conn.execute(_PENDING.limit(self.batch)).all()
        fresh = [row for row in rows if row.log_position is None]
        given = {row.position: (row.log_position, row.envelope) for row in rows if row.log_position is not None}
        for position, log_position, stamped in self._number(conn, fresh):
            given[position] = (log_position, stamped)
        ordered = sorted(given.items(), key=lambda item: item[1][0])
        return [(position, envelope) for position, (_, envelope) in ordered], len(rows) == self.batch

    def number_pending(self, conn: sa.Connection) -> int:
        """Give the next batch of unnumbered events their log positions and stamps, in `position`
        order; returns how many. Left in the caller's transaction: commit before publishing."""
        rows = conn.execute(
            sa.select(OUTBOX.c.position, OUTBOX.c.envelope, OUTBOX.c.stamp)
            .where(OUTBOX.c.published_at.is_(None), OUTBOX.c.log_position.is_(None))
            .order_by(OUTBOX.c.position)
            .limit(self.batch)
        ).all()
        return len(self._number(conn, rows))

    def _number(self, conn: sa.Connection, rows: Sequence[Any]) -> list[tuple[int, int, dict[str, Any]]]:
        """Number `rows` (unnumbered, in position order) after the log's top and apply their stamps;
        returns (position, log position, envelope as published). The leader keeps the top and the
        counters in memory (nobody else numbers while it holds the lock), so a batch costs no reads."""
        if not rows:
            return []
        cache = self._held is not None
        top = self._top if cache and self._top is not None else None
        if top is None:
            top = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(OUTBOX.c.log_position), 0)))
        stamps = {row.position: json.loads(row.stamp) for row in rows if row.stamp}
        counters = self._counters if cache else {}
        if stamps:
            unknown = {counter for counter, _ in stamps.values()} - counters.keys()
            if unknown:
                counters.update(
                    conn.execute(
                        sa.select(EVENT_COUNTERS.c.name, EVENT_COUNTERS.c.value).where(
                            EVENT_COUNTERS.c.name.in_(unknown)
                        )
                    ).all()
                )
        before = dict(counters)
        numbers: list[tuple[int, int, dict[str, Any] | None]] = []
        touched: set[str] = set()
        for offset, row in enumerate(rows, start=1):
            envelope = None
            if row.position in stamps:
                counter, field = stamps[row.position]
                counters[counter] = counters.get(counter, 0) + 1
                touched.add(counter)
                envelope = {**row.envelope, "data": {**row.envelope["data"], field: counters[counter]}}
            numbers.append((row.position, top + offset, envelope))
        try:
            if touched:
                self._save_counters(conn, {name: counters[name] for name in touched})
            if self._save_numbers(conn, numbers) != len(numbers):
                # Only rows still unnumbered take a number: another relay got there first (it cannot
                # on PostgreSQL, under the lock). Its numbers stand; ours, and our counts, are undone.
                conn.rollback()
                raise RuntimeError("another relay is numbering this outbox")
        except Exception:
            counters.clear()
            counters.update(before)
            self._forget()
            raise
        if cache:
            self._top = top + len(numbers)
            if len(counters) > COUNTERS_KEPT:
                counters.clear()  # read again when next needed
        by_position = {row.position: row.envelope for row in rows}
        return [(p, lp, env if env is not None else by_position[p]) for p, lp, env in numbers]

    def _forget(self) -> None:
        self._top = None
        self._counters.clear()

    def _save_counters(self, conn: sa.Connection, values: dict[str, int]) -> None:
        insert = (postgresql if is_postgres(self.engine) else sqlite).insert(EVENT_COUNTERS)
        upsert = insert.on_conflict_do_update(
            index_elements=[EVENT_COUNTERS.c.name], set_={"value": insert.excluded.value}
        )
        conn.execute(upsert, [{"name": name, "value": value} for name, value in values.items()])

    def _save_numbers(self, conn: sa.Connection, numbers: list[tuple[int, int, dict[str, Any] | None]]) -> int:
        """Write the numbers (and stamped envelopes) of rows still unnumbered; returns how many."""
        if is_postgres(self.engine):
            # One statement for the whole batch (psycopg2 would make an UPDATE per row).
            given = sa.values(
                sa.column("p", Position), sa.column("lp", sa.BigInteger), sa.column("env", sa.Text), name="given"
            ).data([(p, lp, None if env is None else json.dumps(env)) for p, lp, env in numbers])
            return conn.execute(
                OUTBOX.update()
                .where(OUTBOX.c.position == given.c.p, OUTBOX.c.log_position.is_(None))
                .values(
                    log_position=given.c.lp,
                    envelope=sa.func.coalesce(sa.cast(given.c.env, sa.JSON), OUTBOX.c.envelope),
                )
            ).rowcount
        plain = [{"p": p, "lp": lp} for p, lp, env in numbers if env is None]
        stamped = [{"p": p, "lp": lp, "env": env} for p, lp, env in numbers if env is not None]
        where = sa.and_(OUTBOX.c.position == sa.bindparam("p"), OUTBOX.c.log_position.is_(None))
        saved = 0
        if plain:
            saved += conn.execute(OUTBOX.update().where(where).values(log_position=sa.bindparam("lp")), plain).rowcount
        if stamped:
            saved += conn.execute(
                OUTBOX.update().where(where).values(log_position=sa.bindparam("lp"), envelope=sa.bindparam("env")),
                stamped,
            ).rowcount
        return saved


RELAY_RETRY_MAX = 2.0  # seconds
# The relay leader looks for events this often even when not woken, while events flow: other
# replicas' commits wake only their own relay, so this bounds how late their events are published.
# Quiet for BUSY_FOR, it polls every poll_interval (an idle stack costs next to nothing).
LEADER_POLL = 0.05  # seconds
BUSY_FOR = 5.0  # seconds


def relay_forever(
    relay: OutboxRelay,
    wait: Callable[[float], None],
    sleep: Callable[[float], None],
    running: Callable[[], bool],
    poll_interval: float,
) -> None:
    """Relay until `running()` is false. `wait(seconds)` returns early when a commit rings the
    doorbell; `sleep(seconds)`, a standby's pause, does not (it may end early only to stop)."""
    backoff = poll_interval
    busy_until = 0.0
    while running():
        try:
            sent = relay.relay_pending()
            if sent:
                log.debug("relay: published %d event(s)", sent)
                busy_until = time.monotonic() + BUSY_FOR
            backoff = poll_interval
            if relay.standing_by:
                # Another replica leads and takes up our events too: try for the lead now and
                # then, not at every commit (that was a lock attempt per vote).
                sleep(poll_interval)
                continue
            busy = relay.leading and time.monotonic() < busy_until
            time_to_wait = min(LEADER_POLL, poll_interval) if busy else poll_interval
        except Exception as exc:  # broker or database away: keep the events, try again
            log.warning("relay: cannot publish yet (%s); retrying in %.1fs", exc, backoff)
            # At most RELAY_RETRY_MAX between tries: events flow again soon after the broker's return.
            time_to_wait, backoff = backoff, min(backoff * 2, RELAY_RETRY_MAX)
        wait(time_to_wait)
    relay.close_leadership()
    relay.publisher.close()
