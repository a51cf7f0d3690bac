"""The delivery worker: sends what the event handlers wrote down, and records how it went.

Handlers only write a notification and its pending deliveries in their unit of work. This
worker claims due deliveries (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas share
the work), holds them for a lease, sends, then records the attempt and the outcome together
with `notification.delivered` / `notification.failed` in one transaction. A worker that dies
between sending and recording leaves the lease to expire, and the delivery is sent again:
a duplicate at worst, never a loss.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from congress.messaging.store import UnitOfWork
from secretariat.adapters.mail import MailError, SmtpMailer
from secretariat.adapters.orm import (
    deliveries,
    delivery_attempts,
    notifications,
    notified_events,
    webhook_subscriptions,
)
from secretariat.adapters.webhooks import WebhookPoster
from secretariat.domain.retry import backoff, gives_up
from secretariat.settings import Settings

log = logging.getLogger(__name__)

PRODUCER = "secretariat"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


class DeliveryWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        mailer: SmtpMailer | None = None,
        poster: WebhookPoster | None = None,
        on_commit: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.mailer = mailer or SmtpMailer(settings)
        self.poster = poster or WebhookPoster(
            settings.webhook_timeout, allow_private_networks=settings.webhook_allow_private_networks
        )
        self.on_commit = on_commit
        self.clock = clock
        self.rng = rng

    # Claiming

    def claim(self, limit: int) -> list[Any]:
        """Take up to `limit` due deliveries for this worker, for the length of a lease."""
        now = self.clock()
        token = str(uuid.uuid4())
        with self.sessions() as session, session.begin():
            due = session.scalars(
                sa.select(deliveries.c.id)
                .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
                .order_by(deliveries.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)  # other replicas skip what we hold (PostgreSQL)
            ).all()
            if not due:
                return []
            session.execute(
                deliveries.update()
                .where(
                    deliveries.c.id.in_(due),
                    deliveries.c.status == "pending",
                    deliveries.c.next_attempt_at <= now,
                )
                .values(
                    claim=token,
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=self.settings.lease_seconds),
                    updated_at=now,
                )
            )
        with self.sessions() as session:
            return session.execute(
                sa.select(
                    deliveries,
                    notifications.c.subject,
                    notifications.c.body,
                    notifications.c.html,
                    webhook_subscriptions.c.secret,
                    notified_events.c.envelope,
                )
                .join(notifications, notifications.c.id == deliveries.c.notification_id)
                .outerjoin(webhook_subscriptions, webhook_subscriptions.c.id == deliveries.c.subscription_id)
                .outerjoin(notified_events, notified_events.c.event_id == deliveries.c.event_id)
                .where(deliveries.c.claim == token)
            ).all()

    def seconds_until_due(self, at_most: float) -> float:
        with self.sessions() as session:
            nearest = session.scalar(
                sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(deliveries.c.status == "pending")
            )
        if nearest is None:
            return at_most
        if nearest.tzinfo is None:
            nearest = nearest.replace(tzinfo=UTC)
        return max(0.0, min(at_most, (nearest - self.clock()).total_seconds()))

    # Sending

    def run_due(self, limit: int | None = None) -> int:
        """Send what is due now, a few at a time; returns how many deliveries were attempted."""
        claimed = self.claim(limit or self.settings.concurrency)
        if not claimed:
            return 0
        pool = eventlet.GreenPool(len(claimed))
        for row in claimed:
            pool.spawn_n(self.attempt, row)
        pool.waitall()
        return len(claimed)

    def attempt(self, row: Any) -> None:
        started = time.monotonic()
        try:
            outcome = self.send(row)
        except Exception as exc:  # a bug or an unexpected failure is an attempt that failed
            log.exception("delivery %s: unexpected error while sending", row.id)
            outcome = Outcome(False, None, f"{type(exc).__name__}: {exc}")
        try:
            self.record(row, outcome, int((time.monotonic() - started) * 1000))
        except Exception:
            # Not recorded: the lease expires and it is sent again (a duplicate, not a loss).
            log.exception("delivery %s: sent (ok=%s) but the outcome could not be recorded", row.id, outcome.ok)

    def send(self, row: Any) -> Outcome:
        if row.channel == "email":
            try:
                self.mailer.send(row.address, row.subject, row.body, row.html or row.body, message_id=row.id)
            except MailError as exc:
                return Outcome(False, exc.code, str(exc))
            return Outcome(True, 250)
        if row.channel == "webhook":
            if row.secret is None or row.envelope is None:
                return Outcome(False, None, "the webhook subscription or the event's envelope is missing")
            body = json.dumps(row.envelope, separators=(",", ":"), ensure_ascii=False).encode()
            result = self.poster.post(row.address, row.secret, row.id, body)
            return Outcome(result.ok, result.status, result.error)
        return Outcome(False, None, f"unknown channel {row.channel!r}")

    def record(self, row: Any, outcome: Outcome, duration_ms: int) -> None:
        now = self.clock()
        attempt = row.attempts  # counted when claimed
        if outcome.ok:
            status, next_at, event = "delivered", now, "notification.delivered"
        elif gives_up(attempt, row.attempt_limit):
            status, next_at, event = "failed", now, "notification.failed"
        else:
            delay = backoff(attempt, self.settings.backoff_base, self.settings.backoff_cap, self.rng)
            status, next_at, event = "pending", now + timedelta(seconds=delay), None
        with UnitOfWork(self.sessions, PRODUCER, on_commit=self.on_commit) as uow:
            updated = uow.session.execute(
                deliveries.update()
                .where(deliveries.c.id == row.id, deliveries.c.claim == row.claim)
                .values(
                    status=status,
                    claim=None,
                    next_attempt_at=next_at,
                    last_status=outcome.status_code,
                    last_error=outcome.error,
                    updated_at=now,
                    delivered_at=now if outcome.ok else None,
                )
            )
            if updated.rowcount != 1:
                # Our lease ran out and another worker holds it now: its outcome will be the record.
                log.warning("delivery %s: claim lost before the outcome was recorded", row.id)
                return
            uow.session.execute(
                delivery_attempts.insert().values(
                    delivery_id=row.id,
                    attempt=attempt,
                    attempted_at=now,
                    outcome="delivered" if outcome.ok else "failed",
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=duration_ms,
                )
            )
            if event is not None:
                data = {
                    "delivery_id": row.id,
                    "notification_id": row.notification_id,
                    "channel": row.channel,
                    "recipient": row.recipient,
                    "event_type": row.event_type,
                    "event_id": row.event_id,
                    "attempts": attempt,
                }
                if not outcome.ok:
                    data["error"] = outcome.error or "failed"
                uow.emit(event, data)
            uow.commit()
        if outcome.ok:
            log.info("delivery %s: %s to %s delivered (attempt %d)", row.id, row.channel, row.recipient, attempt)
        else:
            log.warning(
                "delivery %s: %s to %s failed (attempt %d of %d): %s; %s",
                row.id,
                row.channel,
                row.recipient,
                attempt,
                row.attempt_limit,
                outcome.error,
                "gave up" if status == "failed" else f"next at {next_at.isoformat()}",
            )
