"""The sections service's use cases: check the actor, validate, load, apply the domain, save,
record events, all in one unit of work."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from congress.actors import Actor, require_role, require_section
from congress.contract.api import (
    ApportionmentRequest,
    ApportionmentView,
    MembershipReturnFiling,
    MembershipReturnView,
    NominationRequest,
    NominationView,
    SectionContactsUpdate,
    SectionFilter,
    SectionRegistration,
    SectionStatusChange,
    SectionView,
    TokenFilter,
    TokenRequest,
    TokenView,
    load,
)
from congress.errors import Conflict, Forbidden, InvalidInput, NotFound
from congress_counting.apportionment import ApportionmentError, apportion, summary
from sections.adapters import orm
from sections.domain import nominations as nominating
from sections.domain import registry, tokens
from sections.domain.nominations import Nomination
from sections.domain.returns import MembershipReturn, latest_by

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _section(session: Any, code: str, for_update: bool = False) -> registry.Section:
    section = session.get(registry.Section, code, with_for_update=for_update)
    if section is None:
        raise NotFound(f"no section with code {code!r}")
    return section


# Registry


def register_section(store: Any, actor: Actor, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    fields = load(SectionRegistration(), payload)
    section = registry.Section(**fields, registered_at=_now())
    view = SectionView().dump(section)
    with store.unit_of_work() as uow:
        registry.register(uow.session.get(registry.Section, section.code), section)
        uow.session.add(section)
        uow.emit("section.registered", view)
        try:
            uow.commit()
        except IntegrityError:  # a concurrent registration of the same code won the race
            raise Conflict(
                f"a section with code {section.code!r} is already registered",
                {"code": ["already registered"]},
            ) from None
    log.info("registered section %s (%s)", section.code, section.country)
    return view


def get_section(store: Any, code: str) -> dict[str, Any]:
    with store.session() as session:
        return SectionView().dump(_section(session, code))


def list_sections(store: Any, filters: Any = None) -> list[dict[str, Any]]:
    wanted = load(SectionFilter(), filters or {})
    query = sa.select(registry.Section).order_by(registry.Section.code)
    for field, value in wanted.items():
        query = query.where(getattr(registry.Section, field) == value)
    with store.session() as session:
        return SectionView(many=True).dump(session.scalars(query).all())


def update_contacts(store: Any, actor: Actor, code: str, payload: Any) -> dict[str, Any]:
    require_section(actor, code)
    changes = load(SectionContactsUpdate(), payload)
    with store.unit_of_work() as uow:
        section = _section(uow.session, code, for_update=True)
        changed = registry.update_contacts(section, changes)
        view = SectionView().dump(section)
        if changed:
            uow.emit(
                "section.updated",
                {
                    "code": code,
                    "name": section.name,
                    "email": section.email,
                    "webhook_url": section.webhook_url,
                    "changed": changed,
                },
            )
        uow.commit()
    return view


def change_status(store: Any, actor: Actor, code: str, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    change = load(SectionStatusChange(), payload)
    at = _now()
    with store.unit_of_work() as uow:
        section = _section(uow.session, code, for_update=True)
        previous = registry.change_status(section, change["status"], change["reason"])
        uow.session.execute(
            orm.status_changes.insert().values(
                id=str(uuid.uuid4()),
                code=code,
                previous_status=previous,
                status=section.status,
                reason=change["reason"],
                changed_at=at,
                changed_by=actor.label,
            )
        )
        view = SectionView().dump(section)
        uow.emit(
            "section.status_changed",
            {
                "code": code,
                "previous_status": previous,
                "status": section.status,
                "reason": change["reason"],
                "changed_at": at.isoformat(),
            },
        )
        uow.commit()
    log.info("section %s: %s -> %s (%s)", code, previous, change["status"], change["reason"])
    return view


# Membership returns


def file_return(store: Any, actor: Actor, code: str, payload: Any) -> dict[str, Any]:
    require_section(actor, code)
    filing = load(MembershipReturnFiling(), payload)
    filed = MembershipReturn(id=str(uuid.uuid4()), code=code, filed_at=_now(), filed_by=actor.label, **filing)
    view = MembershipReturnView().dump(filed)
    with store.unit_of_work() as uow:
        registry.may_file_returns(_section(uow.session, code))
        uow.session.execute(orm.membership_returns.insert().values(**vars(filed)))
        uow.emit(
            "membership.reported",
            {
                "return_id": filed.id,
                "code": code,
                "as_of": view["as_of"],
                "members": filed.members,
                "supporters": filed.supporters,
            },
        )
        uow.commit()
    return view


def _returns(session: Any, code: str | None = None) -> list[MembershipReturn]:
    query = sa.select(orm.membership_returns)
    if code is not None:
        query = query.where(orm.membership_returns.c.code == code)
    return [MembershipReturn(**row._mapping) for row in session.execute(query)]


def list_returns(store: Any, actor: Actor, code: str) -> list[dict[str, Any]]:
    if actor.role == "section_officer":
        require_section(actor, code)
    with store.session() as session:
        _section(session, code)
        history = sorted(_returns(session, code), key=lambda r: (r.as_of, r.filed_at), reverse=True)
        return MembershipReturnView(many=True).dump(history)


# Apportionment


def calculate_apportionment(store: Any, actor: Actor, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(ApportionmentRequest(), payload)
    cutoff: date = request["cutoff"] or date.today()
    with store.unit_of_work() as uow:
        entitled = [
            s for s in uow.session.scalars(sa.select(registry.Section)).all() if registry.entitled_to_delegates(s)
        ]
        if not entitled:
            raise Conflict("no section has full rights (status 'section') to receive delegates", {})
        latest = latest_by(_returns(uow.session), cutoff)
        if not any(code in latest for code in (s.code for s in entitled)):
            raise Conflict(
                f"no section has a membership return on or before {cutoff.isoformat()}: "
                "file returns first, or choose a later cutoff",
                {"cutoff": ["no membership returns by this date"]},
            )
        members = {s.code: (latest[s.code].members if s.code in latest else 0) for s in entitled}
        try:
            result = apportion(members, request["seats"], request["method"], request["minimum"], request["seed"])
        except ApportionmentError as exc:
            raise InvalidInput(str(exc), {"seats": [str(exc)]}) from None
        stored = {
            "id": str(uuid.uuid4()),
            "method": result.method,
            "seats": result.seats,
            "minimum": result.minimum,
            "cutoff": cutoff,
            "seed": result.seed,
            "calculated_at": _now(),
            "allocations": [
                {
                    "section": a.section,
                    "members": a.members,
                    "seats": a.seats,
                    "priority": a.priority_text(result.method),
                    "return_as_of": latest[a.section].as_of if a.section in latest else None,
                }
                for a in result.allocations
            ],
            "ties": summary(result)["ties"],
            "without_return": sorted(code for code in members if code not in latest),
        }
        view = ApportionmentView().dump(stored)
        uow.session.execute(
            orm.apportionments.insert().values(
                id=stored["id"],
                method=result.method,
                seats=result.seats,
                minimum=result.minimum,
                cutoff=cutoff,
                seed=result.seed,
                calculated_at=stored["calculated_at"],
                calculated_by=actor.label,
                result=view,
            )
        )
        uow.emit(
            "apportionment.calculated",
            {
                "apportionment_id": view["id"],
                "method": view["method"],
                "seats": view["seats"],
                "minimum": view["minimum"],
                "cutoff": view["cutoff"],
                "calculated_at": view["calculated_at"],
                "allocations": {a["section"]: a["seats"] for a in view["allocations"]},
                "ties": view["ties"],
            },
        )
        uow.commit()
    log.info("apportioned %d seats by %s among %d sections", result.seats, result.method, len(members))
    return view


def get_apportionment(store: Any, apportionment_id: str) -> dict[str, Any]:
    with store.session() as session:
        row = session.execute(
            sa.select(orm.apportionments.c.result).where(orm.apportionments.c.id == apportionment_id)
        ).first()
        if row is None:
            raise NotFound(f"no apportionment {apportionment_id!r}")
        return row.result


def list_apportionments(store: Any) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(sa.select(orm.apportionments.c.result).order_by(orm.apportionments.c.calculated_at))
        return [row.result for row in rows]


def _latest_apportionment_id(session: Any) -> str:
    row = session.execute(
        sa.select(orm.apportionments.c.id).order_by(orm.apportionments.c.calculated_at.desc()).limit(1)
    ).first()
    if row is None:
        raise Conflict("no apportionment has been calculated yet", {"apportionment_id": ["none yet"]})
    return row.id


# Nominations


def nominate(store: Any, actor: Actor, code: str, payload: Any) -> dict[str, Any]:
    require_section(actor, code)
    request = load(NominationRequest(), payload)
    with store.unit_of_work() as uow:
        # The section's row lock serialises its nominations: two cannot both take the last seat.
        section = _section(uow.session, code, for_update=True)
        if not registry.entitled_to_delegates(section):
            raise Conflict(f"section {code!r} has status {section.status} and nominates no delegates", {})
        apportionment_id = request["apportionment_id"] or _latest_apportionment_id(uow.session)
        result = uow.session.execute(
            sa.select(orm.apportionments.c.result).where(orm.apportionments.c.id == apportionment_id)
        ).first()
        if result is None:
            raise NotFound(f"no apportionment {apportionment_id!r}")
        allocation = next((a["seats"] for a in result.result["allocations"] if a["section"] == code), 0)
        standing = uow.session.scalars(
            sa.select(Nomination).where(Nomination.apportionment_id == apportionment_id, Nomination.code == code)
        ).all()
        nominating.check_room(code, allocation, standing, request["email"])
        nomination = Nomination(
            id=str(uuid.uuid4()),
            apportionment_id=apportionment_id,
            code=code,
            name=request["name"],
            email=request["email"],
            status=nominating.NOMINATED,
            nominated_at=_now(),
        )
        uow.session.add(nomination)
        view = NominationView().dump(nomination)
        uow.emit(
            "delegate.nominated",
            {
                "nomination_id": nomination.id,
                "apportionment_id": apportionment_id,
                "code": code,
                "name": nomination.name,
                "email": nomination.email,
            },
        )
        uow.commit()
    return view


def withdraw_nomination(store: Any, actor: Actor, code: str, nomination_id: str) -> dict[str, Any]:
    require_section(actor, code)
    with store.unit_of_work() as uow:
        nomination = uow.session.get(Nomination, nomination_id, with_for_update=True)
        if nomination is None or nomination.code != code:
            raise NotFound(f"section {code!r} has no nomination {nomination_id!r}")
        nominating.withdraw(nomination, _now())
        view = NominationView().dump(nomination)
        uow.emit(
            "delegate.withdrawn",
            {"nomination_id": nomination.id, "apportionment_id": nomination.apportionment_id, "code": code},
        )
        uow.commit()
    return view


def list_nominations(store: Any, actor: Actor, code: str, apportionment_id: str | None = None) -> list[dict[str, Any]]:
    if actor.role == "section_officer":
        require_section(actor, code)
    with store.session() as session:
        _section(session, code)
        query = sa.select(Nomination).where(Nomination.code == code).order_by(Nomination.nominated_at)
        if apportionment_id:
            query = query.where(Nomination.apportionment_id == apportionment_id)
        return NominationView(many=True).dump(session.scalars(query).all())


# Tokens of every role (a section officer's belongs to a section)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(store: Any, actor: Actor, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(TokenRequest(), payload or {})
    role, code = request["role"], request.get("section")
    tokens.check_request(role, code)
    token = tokens.prefix(role) + secrets.token_urlsafe(32)
    row = {
        "id": str(uuid.uuid4()),
        "role": role,
        "code": code,
        "label": request["label"],
        "created_at": _now(),
        "revoked_at": None,
    }
    with store.unit_of_work() as uow:
        if code:
            registry.may_have_officers(_section(uow.session, code))
        uow.session.execute(orm.officer_tokens.insert().values(**row, token_hash=token_hash(token)))
        uow.commit()
    log.info("issued a %s token %s", role, row["id"])
    return TokenView().dump({**row, "token": token})  # the only time the token is shown


def issue_officer_token(store: Any, actor: Actor, code: str, payload: Any) -> dict[str, Any]:
    request = payload if isinstance(payload, dict) else {}
    return issue_token(store, actor, {**request, "role": "section_officer", "section": code})


def list_tokens(store: Any, actor: Actor, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every token's id, role, section, label and dates (never the token): the Centre's, or a
    section officer's own section's."""
    wanted = load(TokenFilter(), filters or {})
    if actor.role == "section_officer":
        if wanted.get("section") not in (None, actor.section):
            raise Forbidden(f"your token is for section {actor.section!r}")
        wanted = {**wanted, "section": actor.section, "role": "section_officer"}
    else:
        require_role(actor, "admin")
    table = orm.officer_tokens
    query = sa.select(table).order_by(table.c.created_at, table.c.id)
    if wanted.get("role"):
        query = query.where(table.c.role == wanted["role"])
    if wanted.get("section"):
        query = query.where(table.c.code == wanted["section"])
    if not wanted.get("include_revoked"):
        query = query.where(table.c.revoked_at.is_(None))
    with store.session() as session:
        return TokenView(many=True, exclude=("token",)).dump([row._mapping for row in session.execute(query)])


def revoke_token(store: Any, actor: Actor, token_id: str) -> dict[str, Any]:
    require_role(actor, "admin")
    table = orm.officer_tokens
    with store.unit_of_work() as uow:
        row = uow.session.execute(sa.select(table).where(table.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no token {token_id!r}")
        if row.revoked_at is None:
            uow.session.execute(table.update().where(table.c.id == token_id).values(revoked_at=_now()))
        uow.commit()
        row = uow.session.execute(sa.select(table).where(table.c.id == token_id)).first()
    return TokenView(exclude=("token",)).dump(row._mapping)


def identify(store: Any, presented_hash: str) -> dict[str, Any] | None:
    """The actor a live token stands for, or None."""
    table = orm.officer_tokens
    with store.session() as session:
        row = session.execute(
            sa.select(table.c.id, table.c.role, table.c.code).where(
                table.c.token_hash == presented_hash, table.c.revoked_at.is_(None)
            )
        ).first()
    return Actor(row.role, section=row.code, token_id=row.id).to_wire() if row else None
