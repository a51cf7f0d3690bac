"""The dead-letter queue, for an operator: what failed and why, and sending it back once fixed.

A consumer that fails twice on an event moves it here with its error and its queue (headers
`x-error`, `x-consumer`, `x-queue`). Replaying republishes each to its own queue, with publisher
confirms, and only then removes it from here; consumers are idempotent, so a replay of an event
that was applied after all has no second effect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Exchange, Producer

from congress.messaging import topology
from congress.proof import EVENT_PROOF


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    consumer: str
    error: str
    event_type: str
    event_id: str


def _describe(message: Any) -> DeadLetter:
    headers = message.headers or {}
    try:
        body = json.loads(message.body)
    except (TypeError, ValueError):
        body = {}
    return DeadLetter(
        queue=str(headers.get("x-queue", "?")),
        consumer=str(headers.get("x-consumer", "?")),
        error=str(headers.get("x-error", "?")),
        event_type=str(body.get("type", "?")),
        event_id=str(body.get("event_id", "?")),
    )


def dead_letters(amqp_uri: str, replay: bool = False) -> list[DeadLetter]:
    """Every dead letter (left in place), or with `replay` each sent back to its queue and removed."""
    seen: list[DeadLetter] = []
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.default_channel
        queue = topology.dead_letter_queue()(channel)
        queue.declare()
        held = []
        while (message := queue.get(no_ack=False)) is not None:
            letter = _describe(message)
            seen.append(letter)
            if replay and letter.queue != "?":
                Producer(channel).publish(
                    message.body,
                    exchange=Exchange(""),  # the default exchange routes by queue name
                    routing_key=letter.queue,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=2,
                    headers={EVENT_PROOF: (message.headers or {}).get(EVENT_PROOF)},  # still the producer's
                    retry=False,
                )
                message.ack()  # only after the broker confirmed the copy
            else:
                held.append(message)
        for message in held:  # listing takes nothing away
            message.requeue()
    return seen
