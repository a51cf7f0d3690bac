"""Who listens to what: the platform's queues, declared by producers and consumers alike.

RabbitMQ drops an event published while no queue is bound to its routing key. So every
subscription of the platform's own services is listed here, and both the producer's relay
and the consumer declare its durable queue before they publish or consume: whichever starts
first, no event of a listed type is lost. Outside subscribers bind their own durable queues
(README: "Subscribing to events").
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue

DEAD_LETTER_EXCHANGE = "congress.dead-letter"
DEAD_LETTER_QUEUE = "congress.dead-letter"


@dataclass(frozen=True)
class Subscription:
    consumer: str
    source: str
    event_type: str

    @property
    def queue_name(self) -> str:
        # nameko's own naming, so `rabbitmqctl list_queues` reads the same as in nameko docs.
        return f"evt-{self.source}-{self.event_type}--{self.consumer}"


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("voting", "sections", "section.registered"),
    Subscription("voting", "sections", "section.status_changed"),
    Subscription("voting", "sections", "apportionment.calculated"),
    Subscription("voting", "sections", "delegate.nominated"),
    Subscription("voting", "sections", "delegate.withdrawn"),
    Subscription("secretariat", "sections", "section.registered"),
    # The Secretariat's recipients (contacts, delegates, IEC/IS members) and what it notifies of.
    Subscription("secretariat", "sections", "section.updated"),
    Subscription("secretariat", "sections", "section.status_changed"),
    Subscription("secretariat", "sections", "delegate.nominated"),
    Subscription("secretariat", "voting", "delegate.accredited"),
    Subscription("secretariat", "voting", "body.membership_changed"),
    Subscription("secretariat", "voting", "congress.convened"),
    Subscription("secretariat", "voting", "motion.decided"),
    Subscription("secretariat", "voting", "election.result_declared"),
)


class UnlistedSubscription(LookupError):
    pass


def events_exchange(producer: str) -> Exchange:
    return Exchange(f"{producer}.events", type="topic", durable=True, auto_delete=False)


def queue_for(subscription: Subscription) -> Queue:
    return Queue(
        subscription.queue_name,
        exchange=events_exchange(subscription.source),
        routing_key=subscription.event_type,
        durable=True,
        auto_delete=False,
    )


def find(consumer: str, source: str, event_type: str) -> Subscription:
    wanted = Subscription(consumer, source, event_type)
    if wanted not in SUBSCRIPTIONS:
        raise UnlistedSubscription(
            f"{consumer} subscribes to {source}:{event_type}, which is not listed in "
            "congress.messaging.topology.SUBSCRIPTIONS: add it there so its queue is pre-declared"
        )
    return wanted


def queues_fed_by(producer: str) -> list[Queue]:
    return [queue_for(s) for s in SUBSCRIPTIONS if s.source == producer]


def dead_letter_queue() -> Queue:
    exchange = Exchange(DEAD_LETTER_EXCHANGE, type="fanout", durable=True, auto_delete=False)
    return Queue(DEAD_LETTER_QUEUE, exchange=exchange, durable=True, auto_delete=False)
