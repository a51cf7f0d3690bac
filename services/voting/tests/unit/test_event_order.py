"""Events of one producer can overtake each other (one queue per type): voting's read model
ends the same whichever comes first, and delegates who may no longer vote stop voting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from congress.contract import new_envelope
from congress.messaging.store import UnitOfWork, make_engine
from voting import handlers
from voting.adapters.orm import bodies, body_members, congresses, known_sections, members, metadata, nominated_delegates

NOMINATED = {"nomination_id": "n1", "apportionment_id": "a1", "code": "ew", "name": "Rosa", "email": "r@example.org"}
WITHDRAWN = {"nomination_id": "n1", "apportionment_id": "a1", "code": "ew"}
REGISTERED = {
    "code": "ew",
    "name": "Socialist Party",
    "country": "England and Wales",
    "status": "section",
    "email": "sp@example.org",
    "webhook_url": None,
    "registered_at": "2026-11-24T10:00:00+00:00",
}


@pytest.fixture
def sessions(tmp_path) -> Iterator[sessionmaker]:
    engine = make_engine(f"sqlite:///{tmp_path / 'voting.sqlite'}")
    metadata.create_all(engine)
    yield sessionmaker(engine)
    engine.dispose()


def apply(sessions: sessionmaker, handler, event_type: str, data: dict) -> None:
    with UnitOfWork(sessions, producer="voting") as uow:
        handler(uow, new_envelope(event_type, data, producer="sections"))
        uow.commit()


def rows(sessions: sessionmaker, table: sa.Table) -> list[dict]:
    with sessions() as session:
        return [dict(r._mapping) for r in session.execute(sa.select(table))]


@pytest.mark.parametrize("withdrawal_first", [False, True])
def test_a_withdrawal_sticks_whichever_event_arrives_first(sessions: sessionmaker, withdrawal_first: bool) -> None:
    steps = [
        (handlers.delegate_nominated, "delegate.nominated", NOMINATED),
        (handlers.delegate_withdrawn, "delegate.withdrawn", WITHDRAWN),
    ]
    for handler, kind, data in reversed(steps) if withdrawal_first else steps:
        apply(sessions, handler, kind, data)

    (delegate,) = rows(sessions, nominated_delegates)
    assert delegate["withdrawn"] is True and delegate["name"] == "Rosa"


@pytest.mark.parametrize("status_first", [False, True])
def test_a_status_change_is_kept_whichever_event_arrives_first(sessions: sessionmaker, status_first: bool) -> None:
    change = {
        "code": "ew",
        "previous_status": "section",
        "status": "suspended",
        "reason": "no return",
        "changed_at": "2026-11-24T11:00:00+00:00",
    }
    steps = [
        (handlers.section_registered, "section.registered", REGISTERED),
        (handlers.section_status_changed, "section.status_changed", change),
    ]
    for handler, kind, data in reversed(steps) if status_first else steps:
        apply(sessions, handler, kind, data)

    (section,) = rows(sessions, known_sections)
    assert section["status"] == "suspended" and section["name"] == "Socialist Party"


def seated_delegate(sessions: sessionmaker) -> None:
    with sessions() as session:
        session.execute(bodies.insert().values(id="b1", kind="congress", name="Congress", quorum=None))
        session.execute(
            congresses.insert().values(
                id="c1",
                title="Congress",
                opens_on=sa.func.current_date(),
                status="in_session",
                body_id="b1",
                apportionment_id="a1",
            )
        )
        session.execute(
            members.insert().values(
                id="m1",
                name="Rosa",
                email="r@example.org",
                section="ew",
                nomination_id="n1",
                credential_hash="h",
                credential_revoked=False,
            )
        )
        session.execute(body_members.insert().values(body_id="b1", member_id="m1", deliberative=True, accredited=True))
        session.commit()


def test_a_delegate_withdrawn_after_convening_no_longer_sits(sessions: sessionmaker) -> None:
    seated_delegate(sessions)
    apply(sessions, handlers.delegate_nominated, "delegate.nominated", NOMINATED)

    apply(sessions, handlers.delegate_withdrawn, "delegate.withdrawn", WITHDRAWN)

    (seat,) = rows(sessions, body_members)
    assert seat["accredited"] is False and seat["deliberative"] is False


def test_delegates_of_a_section_that_loses_full_rights_become_consultative(sessions: sessionmaker) -> None:
    seated_delegate(sessions)
    apply(sessions, handlers.section_registered, "section.registered", REGISTERED)

    apply(
        sessions,
        handlers.section_status_changed,
        "section.status_changed",
        {
            "code": "ew",
            "previous_status": "section",
            "status": "sympathising_group",
            "reason": "congress decision",
            "changed_at": "2026-11-24T11:00:00+00:00",
        },
    )

    (seat,) = rows(sessions, body_members)
    assert seat["deliberative"] is False and seat["accredited"] is True
