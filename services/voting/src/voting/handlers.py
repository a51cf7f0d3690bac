"""The voting service's use cases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from congress.contract import Envelope
from congress.messaging.store import UnitOfWork
from voting.adapters.orm import known_sections


def section_registered(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    uow.session.execute(
        known_sections.insert().values(
            code=data["code"],
            name=data["name"],
            country=data["country"],
            status=data["status"],
            updated_at=event.occurred_at,
        )
    )


def list_known_sections(store: Any) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(
            sa.select(
                known_sections.c.code, known_sections.c.name, known_sections.c.country, known_sections.c.status
            ).order_by(known_sections.c.code)
        )
        return [dict(row._mapping) for row in rows]
