"""The voting service's use cases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from congress.contract import Envelope
from congress.messaging.store import UnitOfWork
from voting.adapters.orm import allocations, known_sections, nominated_delegates
from voting.congress import delegate_nominated_after_convening

# What voting learns from the sections service


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


def section_status_changed(uow: UnitOfWork, event: Envelope) -> None:
    uow.session.execute(
        known_sections.update()
        .where(known_sections.c.code == event.data["code"])
        .values(status=event.data["status"], updated_at=event.occurred_at)
    )


def apportionment_calculated(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    rows = [
        {"apportionment_id": data["apportionment_id"], "code": code, "seats": seats, "calculated_at": event.occurred_at}
        for code, seats in data["allocations"].items()
    ]
    if rows:
        uow.session.execute(allocations.insert(), rows)


def delegate_nominated(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    uow.session.execute(
        nominated_delegates.insert().values(
            nomination_id=data["nomination_id"],
            apportionment_id=data["apportionment_id"],
            code=data["code"],
            name=data["name"],
            email=data["email"],
            withdrawn=False,
        )
    )
    delegate = uow.session.execute(
        sa.select(nominated_delegates).where(nominated_delegates.c.nomination_id == data["nomination_id"])
    ).first()
    delegate_nominated_after_convening(uow.session, delegate)


def delegate_withdrawn(uow: UnitOfWork, event: Envelope) -> None:
    uow.session.execute(
        nominated_delegates.update()
        .where(nominated_delegates.c.nomination_id == event.data["nomination_id"])
        .values(withdrawn=True)
    )


def list_known_sections(store: Any) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(
            sa.select(
                known_sections.c.code, known_sections.c.name, known_sections.c.country, known_sections.c.status
            ).order_by(known_sections.c.code)
        )
        return [dict(row._mapping) for row in rows]
