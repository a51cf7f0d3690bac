"""An outside subscriber as another system would run one: plain kombu, its own durable queue,
connected straight to the broker (never through the fault proxy), acking after it recorded."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Consumer, Exchange, Queue

PRODUCERS = ("sections", "voting", "secretariat")


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic()
    producer: str
    event_id: str
    type: str
    data: dict[str, Any]


class OutsideSubscriber:
    """Binds one durable queue per producer's `<producer>.events` exchange (routing key `#`)
    before the services start, so it hears every event they ever publish."""

    def __init__(self, amqp_uri: str, producers: tuple[str, ...] = PRODUCERS) -> None:
        self.amqp_uri = amqp_uri
        self.name = f"faults-outside-{uuid.uuid4().hex[:8]}"
        self.queues = {
            producer: Queue(
                f"{self.name}.{producer}",
                Exchange(f"{producer}.events", type="topic", durable=True, auto_delete=False),
                routing_key="#",
                durable=True,
                auto_delete=False,
            )
            for producer in producers
        }
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self._stop = threading.Event()
        self.errors: list[str] = []
        with Connection(self.amqp_uri, connect_timeout=5) as conn:
            channel = conn.default_channel
            for queue in self.queues.values():
                queue(channel).declare()
        self._thread = threading.Thread(target=self._consume_forever, name="outside-subscriber", daemon=True)
        self._thread.start()

    def arrivals(self, producer: str | None = None) -> list[Arrival]:
        with self._lock:
            return [a for a in self._arrivals if producer is None or a.producer == producer]

    def seen_ids(self, producer: str) -> set[str]:
        return {a.event_id for a in self.arrivals(producer)}

    def wait_for(self, producer: str, event_ids: set[str], timeout: float) -> set[str]:
        """Wait (bounded) until every id in `event_ids` has arrived; the ones still missing."""
        deadline = time.monotonic() + timeout
        missing = set(event_ids)
        while missing and time.monotonic() < deadline:
            missing -= self.seen_ids(producer)
            if missing:
                time.sleep(0.2)
        return missing

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            with Connection(self.amqp_uri, connect_timeout=5) as conn:
                for queue in self.queues.values():
                    queue(conn.default_channel).delete()
        except Exception as exc:  # the vhost may already be gone
            self.errors.append(f"deleting queues: {exc}")

    def _consume_forever(self) -> None:
        while not self._stop.is_set():
            try:
                with Connection(self.amqp_uri, connect_timeout=5, heartbeat=10) as conn:
                    consumers = [
                        Consumer(
                            conn.channel(),
                            queues=[queue],
                            callbacks=[self._recorder(producer)],
                            accept=["json"],
                            prefetch_count=200,
                        )
                        for producer, queue in self.queues.items()
                    ]
                    for consumer in consumers:
                        consumer.consume()
                    while not self._stop.is_set():
                        try:
                            conn.drain_events(timeout=0.5)
                        except TimeoutError:
                            conn.heartbeat_check()
            except Exception as exc:  # reconnect: an outside system would
                self.errors.append(f"{type(exc).__name__}: {exc}")
                self._stop.wait(1.0)

    def _recorder(self, producer: str) -> Any:
        def record(body: Any, message: Any) -> None:
            envelope = body if isinstance(body, dict) else {}
            with self._lock:
                self._arrivals.append(
                    Arrival(
                        at=time.monotonic(),
                        producer=producer,
                        event_id=str(envelope.get("event_id")),
                        type=str(envelope.get("type")),
                        data=envelope.get("data") or {},
                    )
                )
            message.ack()

        return record
