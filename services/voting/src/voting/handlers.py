"""The voting service's use cases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from congress.contract import Envelope
from congress.messaging.store import UnitOfWork
from voting.adapters.orm import (
    allocations,
    body_members,
    congresses,
    known_sections,
    members,
    nominated_delegates,
)
from voting.congress import delegate_nominated_after_convening

# What voting learns from the sections service


# Events reach us on one queue per type, so an event may overtake another from the same
# producer: each handler below also does the right thing when its predecessor comes second.


def section_registered(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    known = uow.session.execute(sa.select(known_sections).where(known_sections.c.code == data["code"])).first()
    if known is None:
        uow.session.execute(
            known_sections.insert().values(
                code=data["code"],
                name=data["name"],
                country=data["country"],
                status=data["status"],
                updated_at=event.occurred_at,
            )
        )
    else:  # a status change overtook the registration: keep the later status
        uow.session.execute(
            known_sections.update()
            .where(known_sections.c.code == data["code"])
            .values(name=data["name"], country=data["country"])
        )


def section_status_changed(uow: UnitOfWork, event: Envelope) -> None:
    code, status = event.data["code"], event.data["status"]
    known = uow.session.execute(sa.select(known_sections).where(known_sections.c.code == code)).first()
    if known is None:
        uow.session.execute(
            known_sections.insert().values(code=code, name="", country="", status=status, updated_at=event.occurred_at)
        )
    elif known.updated_at <= event.occurred_at:
        uow.session.execute(
            known_sections.update()
            .where(known_sections.c.code == code)
            .values(status=status, updated_at=event.occurred_at)
        )
    if status != "section":
        # Only sections with full rights have deliberative delegates: the others' speak, not vote.
        congress_bodies = sa.select(congresses.c.body_id).where(congresses.c.body_id.is_not(None))
        its_members = sa.select(members.c.id).where(members.c.section == code)
        uow.session.execute(
            body_members.update()
            .where(body_members.c.body_id.in_(congress_bodies), body_members.c.member_id.in_(its_members))
            .values(deliberative=False)
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
    marker = uow.session.execute(
        sa.select(nominated_delegates).where(nominated_delegates.c.nomination_id == data["nomination_id"])
    ).first()
    if marker is not None:  # its withdrawal came first: remember who it was, and leave it withdrawn
        uow.session.execute(
            nominated_delegates.update()
            .where(nominated_delegates.c.nomination_id == data["nomination_id"])
            .values(name=data["name"], email=data["email"])
        )
        return
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
    data = event.data
    done = uow.session.execute(
        nominated_delegates.update()
        .where(nominated_delegates.c.nomination_id == data["nomination_id"])
        .values(withdrawn=True)
    ).rowcount
    if not done:  # the withdrawal overtook the nomination: a marker the nomination will respect
        uow.session.execute(
            nominated_delegates.insert().values(
                nomination_id=data["nomination_id"],
                apportionment_id=data["apportionment_id"],
                code=data["code"],
                name="",
                email="",
                withdrawn=True,
            )
        )
    # A withdrawn delegate no longer sits in the congress (their section may nominate another).
    member = sa.select(members.c.id).where(members.c.nomination_id == data["nomination_id"])
    congress_bodies = sa.select(congresses.c.body_id).where(congresses.c.body_id.is_not(None))
    uow.session.execute(
        body_members.update()
        .where(body_members.c.member_id.in_(member), body_members.c.body_id.in_(congress_bodies))
        .values(accredited=False, deliberative=False)
    )


def list_known_sections(store: Any) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(
            sa.select(
                known_sections.c.code, known_sections.c.name, known_sections.c.country, known_sections.c.status
            ).order_by(known_sections.c.code)
        )
        return [dict(row._mapping) for row in rows]
