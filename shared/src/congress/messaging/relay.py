"""The outbox relay: publishes committed events in outbox order with publisher confirms.

An event is marked sent only after the broker confirmed it, so a crash or a broker outage
between publish and mark gives a duplicate (subscribers drop it by `event_id`), never a loss.
On PostgreSQL, a session advisory lock lets one replica relay at a time, which keeps the
per-producer order; the others stand by and take over if it dies.
"""

from __future__ import annotations

import logging
import zlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from kombu import Connection, Producer

from congress.messaging import topology
from congress.messaging.store import OUTBOX, is_postgres
from congress.metrics import EVENTS_PUBLISHED, OUTBOX_PENDING
from congress.proof import EVENT_PROOF, sign_event

log = logging.getLogger(__name__)


class EventPublisher:
    """A kombu connection to one producer's events exchange, confirming every message."""

    def __init__(self, amqp_uri: str, producer: str, timeout: float = 10.0) -> None:
        self.amqp_uri = amqp_uri
        self.producer = producer
        self.timeout = timeout
        self.exchange = topology.events_exchange(producer)
        self._connection: Connection | None = None

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = Connection(
                self.amqp_uri,
                transport_options={"confirm_publish": True},
                connect_timeout=self.timeout,
            )
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            self.exchange(channel).declare()
            for queue in topology.queues_fed_by(self.producer):
                queue(channel).declare()
            self._connection = connection
        return self._connection

    def publish(self, envelope: dict[str, Any]) -> None:
        connection = self._connect()
        try:
            Producer(connection.default_channel).publish(
                envelope,
                exchange=self.exchange,
                routing_key=envelope["type"],
                serializer="json",
                delivery_mode=2,
                message_id=envelope["event_id"],
                headers={
                    EVENT_PROOF: sign_event(self.producer, envelope),
                    "nameko.correlation_id": envelope.get("correlation_id"),
                    "nameko.call_id_stack": [f"{self.producer}.relay.{envelope['event_id']}"],
                },
                retry=False,
                timeout=self.timeout,
                confirm_timeout=self.timeout,
            )
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # a dead socket may fail to close; it is gone either way
                log.debug("closing a broken publisher connection failed", exc_info=True)
            self._connection = None


class OutboxRelay:
    def __init__(self, engine: sa.Engine, publisher: EventPublisher, batch: int = 200) -> None:
        self.engine = engine
        self.publisher = publisher
        self.batch = batch
        self._lock_key = zlib.crc32(f"outbox-relay:{publisher.producer}".encode())

    def relay_pending(self) -> int:
        """Publish what is unsent; returns how many were confirmed. Raises if the broker fails."""
        with self.engine.connect() as conn:
            postgres = is_postgres(self.engine)
            if postgres:
                leader = conn.scalar(sa.select(sa.func.pg_try_advisory_lock(self._lock_key)))
                conn.commit()
                if not leader:
                    return 0
            try:
                return self._relay(conn)
            finally:
                if postgres:
                    self._step_down(conn)

    def _step_down(self, conn: sa.Connection) -> None:
        """Release leadership; a connection that cannot is discarded, never pooled with the lock."""
        try:
            conn.rollback()  # an aborted transaction would refuse the unlock
            released = conn.scalar(sa.select(sa.func.pg_advisory_unlock(self._lock_key)))
            conn.commit()
        except Exception:
            released = False
        if not released:
            conn.invalidate()

    def _relay(self, conn: sa.Connection) -> int:
        sent = 0
        while True:
            rows = conn.execute(
                sa.select(OUTBOX.c.position, OUTBOX.c.envelope)
                .where(OUTBOX.c.published_at.is_(None))
                .order_by(OUTBOX.c.position)
                .limit(self.batch)
            ).all()
            pending = conn.scalar(sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None)))
            conn.commit()  # no transaction stays open while we wait on the broker
            OUTBOX_PENDING.set(pending or 0)
            if not rows:
                return sent
            confirmed: list[int] = []
            try:
                for row in rows:
                    if is_postgres(self.engine):
                        # Still the leader? A dead session has lost its lock: stop before another
                        # replica's relay and this one interleave.
                        conn.execute(sa.text("SELECT 1"))
                    self.publisher.publish(row.envelope)
                    confirmed.append(row.position)
                    EVENTS_PUBLISHED.labels(row.envelope["type"]).inc()
            finally:
                if confirmed:
                    conn.execute(
                        OUTBOX.update().where(OUTBOX.c.position.in_(confirmed)).values(published_at=datetime.now(UTC))
                    )
                    conn.commit()
                    sent += len(confirmed)
