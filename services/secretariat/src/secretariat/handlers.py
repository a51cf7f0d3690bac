"""The secretariat service's use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from congress.contract import Envelope
from congress.messaging.store import UnitOfWork
from secretariat.adapters.orm import notifications
from secretariat.domain import notices


def section_registered(uow: UnitOfWork, event: Envelope) -> None:
    now = datetime.now(UTC)
    for notice in notices.for_section_registered(event.data):
        uow.session.execute(
            notifications.insert().values(
                recipient=notice.recipient,
                event_id=event.event_id,
                event_type=event.type,
                subject=notice.subject,
                body=notice.body,
                created_at=now,
            )
        )


def list_notifications(store: Any, recipient: str) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(
            sa.select(notifications).where(notifications.c.recipient == recipient).order_by(notifications.c.id)
        )
        return [
            {
                "id": row.id,
                "recipient": row.recipient,
                "event_id": row.event_id,
                "event_type": row.event_type,
                "subject": row.subject,
                "body": row.body,
                "created_at": row.created_at.isoformat(),
                "read": row.read_at is not None,
            }
            for row in rows
        ]
