"""Use cases of congresses, bodies, members and their credentials."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from typing import Any

import sqlalchemy as sa

from congress.actors import Actor, require_role
from congress.contract.api import (
    Accreditation,
    BodyCreation,
    BodyView,
    CongressConvening,
    CongressScheduling,
    CongressView,
    MemberAddition,
    MemberView,
    load,
)
from congress.errors import Conflict, NotFound
from voting.adapters import repository
from voting.adapters.orm import (
    allocations,
    bodies,
    body_members,
    candidates,
    congresses,
    members,
    nominated_delegates,
)
from voting.domain.congresses import next_status
from voting.domain.elections import Candidate, Election

log = logging.getLogger(__name__)

CREDENTIAL_PREFIX = "dc_"


def new_credential() -> tuple[str, str]:
    """A credential and the hash that is all we keep of it."""
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    return credential, hashlib.sha256(credential.encode()).hexdigest()


def _row(session: Any, table: sa.Table, key: str, what: str, for_update: bool = False) -> Any:
    query = sa.select(table).where(table.c.id == key)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no {what} {key!r}")
    return row


def _body_view(session: Any, body: Any) -> dict[str, Any]:
    voting = session.scalar(
        sa.select(sa.func.count())
        .select_from(body_members)
        .where(body_members.c.body_id == body.id, body_members.c.deliberative, body_members.c.accredited)
    )
    return BodyView().dump({**body._mapping, "voting_members": voting})


# Congresses


def schedule_congress(store: Any, actor: Actor, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(CongressScheduling(), payload)
    congress = {"id": str(uuid.uuid4()), "status": "planned", "body_id": None, "apportionment_id": None, **request}
    view = CongressView().dump(congress)
    with store.unit_of_work() as uow:
        uow.session.execute(congresses.insert().values(**congress))
        uow.emit(
            "congress.scheduled", {"congress_id": view["id"], "title": view["title"], "opens_on": view["opens_on"]}
        )
        uow.commit()
    return view


def convene_congress(store: Any, actor: Actor, congress_id: str, payload: Any) -> dict[str, Any]:
    """Make the congress a body whose members are the delegates nominated under the apportionment."""
    require_role(actor, "admin")
    request = load(CongressConvening(), payload or {})
    with store.unit_of_work() as uow:
        congress = _row(uow.session, congresses, congress_id, "congress", for_update=True)
        status = next_status(congress.status, "convened")
        apportionment_id = request["apportionment_id"] or uow.session.scalar(
            sa.select(allocations.c.apportionment_id).order_by(allocations.c.calculated_at.desc()).limit(1)
        )
        if apportionment_id is None:
            raise Conflict("no apportionment of delegates is known yet; calculate one first", {})
        body_id = str(uuid.uuid4())
        uow.session.execute(
            bodies.insert().values(id=body_id, kind="congress", name=congress.title, quorum=request["quorum"])
        )
        nominated = uow.session.execute(
            sa.select(nominated_delegates).where(
                nominated_delegates.c.apportionment_id == apportionment_id, ~nominated_delegates.c.withdrawn
            )
        ).all()
        for delegate in nominated:
            _add_delegate(uow.session, body_id, delegate)
        uow.session.execute(
            congresses.update()
            .where(congresses.c.id == congress_id)
            .values(status=status, body_id=body_id, apportionment_id=apportionment_id)
        )
        uow.emit(
            "congress.convened",
            {
                "congress_id": congress_id,
                "title": congress.title,
                "body_id": body_id,
                "apportionment_id": apportionment_id,
                "delegates": len(nominated),
            },
        )
        uow.commit()
    return get_congress(store, congress_id)


def _add_delegate(session: Any, body_id: str, delegate: Any) -> None:
    member_id = session.scalar(sa.select(members.c.id).where(members.c.nomination_id == delegate.nomination_id))
    if member_id is None:
        member_id = str(uuid.uuid4())
        session.execute(
            members.insert().values(
                id=member_id,
                name=delegate.name,
                email=delegate.email,
                section=delegate.code,
                nomination_id=delegate.nomination_id,
                credential_hash=None,
                credential_revoked=False,
            )
        )
    seated = session.execute(
        sa.select(body_members.c.member_id).where(
            body_members.c.body_id == body_id, body_members.c.member_id == member_id
        )
    ).first()
    if seated is None:  # already a delegate of this congress: nothing to add
        session.execute(
            body_members.insert().values(body_id=body_id, member_id=member_id, deliberative=True, accredited=False)
        )


def delegate_nominated_after_convening(session: Any, delegate: Any) -> None:
    """A nomination made after its congress convened joins that congress's delegates."""
    for congress in session.execute(
        sa.select(congresses.c.body_id).where(
            congresses.c.apportionment_id == delegate.apportionment_id,
            congresses.c.status.in_(("convened", "in_session")),
        )
    ):
        _add_delegate(session, congress.body_id, delegate)


def set_congress_status(store: Any, actor: Actor, congress_id: str, wanted: str) -> dict[str, Any]:
    require_role(actor, "admin")
    with store.unit_of_work() as uow:
        congress = _row(uow.session, congresses, congress_id, "congress", for_update=True)
        status = next_status(congress.status, wanted)
        if status == "closed" and congress.body_id:
            from voting.adapters.orm import ballots

            still_open = uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(ballots)
                .where(ballots.c.body_id == congress.body_id, ballots.c.status == "open")
            )
            if still_open:
                raise Conflict(f"close the congress's {still_open} open ballot(s) first", {})
        uow.session.execute(congresses.update().where(congresses.c.id == congress_id).values(status=status))
        uow.emit(f"congress.{status}", {"congress_id": congress_id, "status": status})
        uow.commit()
    return get_congress(store, congress_id)


def get_congress(store: Any, congress_id: str) -> dict[str, Any]:
    with store.session() as session:
        return CongressView().dump(_row(session, congresses, congress_id, "congress")._mapping)


def list_congresses(store: Any) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(sa.select(congresses).order_by(congresses.c.opens_on)).all()
        return CongressView(many=True).dump([row._mapping for row in rows])


# Bodies and their members


def create_body(store: Any, actor: Actor, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(BodyCreation(), payload)
    body = {"id": str(uuid.uuid4()), **request}
    with store.unit_of_work() as uow:
        uow.session.execute(bodies.insert().values(**body))
        uow.commit()
    return BodyView().dump({**body, "voting_members": 0})


def get_body(store: Any, body_id: str) -> dict[str, Any]:
    with store.session() as session:
        return _body_view(session, _row(session, bodies, body_id, "body"))


def list_bodies(store: Any) -> list[dict[str, Any]]:
    with store.session() as session:
        return [_body_view(session, body) for body in session.execute(sa.select(bodies).order_by(bodies.c.name))]


def list_members(store: Any, body_id: str) -> list[dict[str, Any]]:
    with store.session() as session:
        _row(session, bodies, body_id, "body")
        rows = session.execute(
            sa.select(members, body_members.c.deliberative, body_members.c.accredited)
            .join(body_members, body_members.c.member_id == members.c.id)
            .where(body_members.c.body_id == body_id)
            .order_by(members.c.section, members.c.name)
        ).all()
        return [_member_view(row) for row in rows]


def _member_view(row: Any, credential: str | None = None) -> dict[str, Any]:
    view = MemberView().dump({**row._mapping, "credential_revoked": row.credential_revoked})
    if credential:
        view["credential"] = credential
    return view


def add_member(store: Any, actor: Actor, body_id: str, payload: Any) -> dict[str, Any]:
    """An IEC or IS member, or a consultative delegate or observer at a congress: accredited at once."""
    require_role(actor, "admin")
    request = load(MemberAddition(), payload)
    credential = None
    with store.unit_of_work() as uow:
        _row(uow.session, bodies, body_id, "body")
        member_id = request["member_id"]
        if member_id is None:
            member_id = str(uuid.uuid4())
            credential, digest = new_credential()
            uow.session.execute(
                members.insert().values(
                    id=member_id,
                    name=request["name"],
                    email=request["email"],
                    section=request["section"],
                    nomination_id=None,
                    credential_hash=digest,
                    credential_revoked=False,
                )
            )
        else:
            _row(uow.session, members, member_id, "member")
        already = uow.session.execute(
            sa.select(body_members).where(body_members.c.body_id == body_id, body_members.c.member_id == member_id)
        ).first()
        if already:
            raise Conflict(f"member {member_id} already belongs to this body", {"member_id": ["already a member"]})
        uow.session.execute(
            body_members.insert().values(
                body_id=body_id, member_id=member_id, deliberative=request["deliberative"], accredited=True
            )
        )
        row = _member_row(uow.session, body_id, member_id)
        uow.emit("delegate.accredited", _accredited(row, body_id))
        uow.commit()
    return _member_view(row, credential)


def _member_row(session: Any, body_id: str, member_id: str) -> Any:
    row = session.execute(
        sa.select(members, body_members.c.deliberative, body_members.c.accredited)
        .join(body_members, body_members.c.member_id == members.c.id)
        .where(body_members.c.body_id == body_id, members.c.id == member_id)
    ).first()
    if row is None:
        raise NotFound(f"member {member_id!r} does not belong to body {body_id!r}")
    return row


def _accredited(row: Any, body_id: str) -> dict[str, Any]:
    return {
        "member_id": row.id,
        "body_id": body_id,
        "name": row.name,
        "email": row.email,
        "section": row.section,
        "deliberative": row.deliberative,
    }


def accredit(store: Any, actor: Actor, body_id: str, member_id: str, payload: Any) -> dict[str, Any]:
    """Accredit a nominated delegate: issue their credential (shown once) and let them take part."""
    require_role(actor, "admin")
    request = load(Accreditation(), payload or {})
    with store.unit_of_work() as uow:
        row = _member_row(uow.session, body_id, member_id)
        if row.accredited:
            raise Conflict(f"{row.name} is already accredited; reissue the credential if it was lost", {})
        credential, digest = new_credential()
        uow.session.execute(
            members.update().where(members.c.id == member_id).values(credential_hash=digest, credential_revoked=False)
        )
        deliberative = row.deliberative if request["deliberative"] is None else request["deliberative"]
        uow.session.execute(
            body_members.update()
            .where(body_members.c.body_id == body_id, body_members.c.member_id == member_id)
            .values(accredited=True, deliberative=deliberative)
        )
        row = _member_row(uow.session, body_id, member_id)
        uow.emit("delegate.accredited", _accredited(row, body_id))
        uow.commit()
    log.info("accredited member %s in body %s", member_id, body_id)
    return _member_view(row, credential)


def reissue_credential(store: Any, actor: Actor, member_id: str) -> dict[str, Any]:
    """A new credential; the old one stops working at once."""
    require_role(actor, "admin")
    credential, digest = new_credential()
    with store.unit_of_work() as uow:
        _row(uow.session, members, member_id, "member", for_update=True)
        uow.session.execute(
            members.update().where(members.c.id == member_id).values(credential_hash=digest, credential_revoked=False)
        )
        row = uow.session.execute(sa.select(members).where(members.c.id == member_id)).first()
        names = uow.session.scalars(
            sa.select(bodies.c.name)
            .join(body_members, body_members.c.body_id == bodies.c.id)
            .where(body_members.c.member_id == member_id)
        ).all()
        uow.commit()
    return {"id": row.id, "name": row.name, "email": row.email, "credential": credential, "bodies": ", ".join(names)}


def revoke_credential(store: Any, actor: Actor, member_id: str) -> dict[str, Any]:
    require_role(actor, "admin")
    with store.unit_of_work() as uow:
        _row(uow.session, members, member_id, "member", for_update=True)
        uow.session.execute(members.update().where(members.c.id == member_id).values(credential_revoked=True))
        uow.commit()
    return {"id": member_id, "credential_revoked": True}


def identify(store: Any, presented_hash: str) -> dict[str, Any] | None:
    """The member a credential stands for, or None; a revoked one says so, so the refusal can."""
    with store.session() as session:
        row = session.execute(
            sa.select(members.c.id, members.c.section, members.c.credential_revoked).where(
                members.c.credential_hash == presented_hash
            )
        ).first()
    if row is None:
        return None
    return {**Actor("delegate", section=row.section, member=row.id).to_wire(), "revoked": row.credential_revoked}


# Bodies filled by an election


def fill_body(
    uow: Any, election: Election, elected: list[Candidate]
) -> tuple[dict[str, str], list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Seat the elected in the body the election fills, each able to vote there at once: a member
    made for a candidate who is none yet, accredited, and a credential for whoever holds none.

    Returns each candidate's member id, the credentials issued (to deliver after the commit) and
    the events to emit after the declaration's."""
    session = uow.session
    filled = repository.body(session, str(election.fills_body_id))
    member_of: dict[str, str] = {}
    for candidate in elected:
        member_id = candidate.member_id or _member_by_email(session, candidate.email)
        if member_id is None:
            member_id = str(uuid.uuid4())
            session.execute(
                members.insert().values(
                    id=member_id,
                    name=candidate.name,
                    email=candidate.email,
                    section=None,
                    nomination_id=None,
                    credential_hash=None,
                    credential_revoked=False,
                )
            )
        if member_id != candidate.member_id:
            session.execute(candidates.update().where(candidates.c.id == candidate.id).values(member_id=member_id))
        member_of[candidate.id] = member_id
    change = filled.fill(list(member_of.values()))
    repository.save_membership(session, filled)
    issued: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    for member_id in change.members:
        member = session.execute(sa.select(members).where(members.c.id == member_id)).one()
        credentialed = member.credential_hash is None  # revoked ones stay revoked: that was a decision
        if credentialed:
            credential, digest = new_credential()
            session.execute(members.update().where(members.c.id == member_id).values(credential_hash=digest))
            issued.append(
                {
                    "id": member_id,
                    "name": member.name,
                    "email": member.email,
                    "credential": credential,
                    "body_name": filled.name,
                }
            )
        if credentialed or member_id in change.added:
            # The Secretariat learns their address from it: the body's circulars reach them.
            events.append(
                (
                    "delegate.accredited",
                    {
                        "member_id": member_id,
                        "body_id": filled.id,
                        "name": member.name,
                        "email": member.email,
                        "section": member.section,
                        "deliberative": True,
                    },
                )
            )
    events.append(
        (
            "body.membership_changed",
            {
                "body_id": filled.id,
                "kind": filled.kind,
                "members": change.members,
                "added": change.added,
                "removed": change.removed,
                "reason": f"election {election.id}: {election.title}",
            },
        )
    )
    log.info(
        "body %s (%s) now has %d members after election %s; %d credential(s) issued",
        filled.id,
        filled.kind,
        len(change.members),
        election.id,
        len(issued),
    )
    return member_of, issued, events


def _member_by_email(session: Any, email: str) -> str | None:
    """The one member with this email, whatever its case (the same person); None if none or several."""
    found = session.scalars(
        sa.select(members.c.id).where(sa.func.lower(members.c.email) == email.lower()).limit(2)
    ).all()
    return found[0] if len(found) == 1 else None
