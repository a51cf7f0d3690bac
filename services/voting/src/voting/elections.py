"""Use cases of elections: the Congress elects the IEC, the IEC elects the IS.

An election is a ballot of its electing body. Candidates may withdraw until the ballot opens.
Counting is the domain's (block vote, STV by Meek's method or WIGM); declaring the result of
an election that fills a body replaces that body's voting members.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from congress.actors import Actor, require_role
from congress.contract.api import BallotOpening, CandidateNomination, ElectionCreation, ElectionView, load
from congress.errors import Conflict, InvalidInput, NotFound
from voting.adapters.orm import ballots, bodies, body_members, candidates, elections, members

log = logging.getLogger(__name__)


def _election(session: Any, election_id: str, for_update: bool = False) -> Any:
    query = sa.select(elections).where(elections.c.id == election_id)
    row = session.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"no election {election_id!r}")
    return row


def _ballot_of(session: Any, election_id: str) -> Any:
    return session.execute(sa.select(ballots.c.id, ballots.c.status).where(ballots.c.subject_id == election_id)).first()


def _view(session: Any, election: Any) -> dict[str, Any]:
    standing = session.execute(
        sa.select(candidates.c.id, candidates.c.name, candidates.c.member_id, candidates.c.withdrawn)
        .where(candidates.c.election_id == election.id)
        .order_by(candidates.c.name)
    ).all()
    ballot = _ballot_of(session, election.id)
    return ElectionView().dump(
        {
            **election._mapping,
            "ballot_id": ballot.id if ballot else None,
            "candidates": [dict(c._mapping) for c in standing],
        }
    )


def create_election(store: Any, actor: Actor, body_id: str, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(ElectionCreation(), payload)
    election = {"id": str(uuid.uuid4()), "body_id": body_id, "created_at": datetime.now(UTC), **request}
    with store.unit_of_work() as uow:
        for needed in filter(None, (body_id, request["fills_body_id"])):
            if uow.session.execute(sa.select(bodies.c.id).where(bodies.c.id == needed)).first() is None:
                raise NotFound(f"no body {needed!r}")
        if request["fills_body_id"] == body_id:
            raise InvalidInput("a body does not elect itself", {"fills_body_id": ["the electing body"]})
        uow.session.execute(elections.insert().values(**election))
        uow.commit()
        return _view(uow.session, _election(uow.session, election["id"]))


def get_election(store: Any, election_id: str) -> dict[str, Any]:
    with store.session() as session:
        return _view(session, _election(session, election_id))


def list_elections(store: Any, body_id: str) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(
            sa.select(elections).where(elections.c.body_id == body_id).order_by(elections.c.created_at)
        ).all()
        return [_view(session, row) for row in rows]


def nominate_candidate(store: Any, actor: Actor, election_id: str, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(CandidateNomination(), payload)
    with store.unit_of_work() as uow:
        election = _election(uow.session, election_id, for_update=True)
        if _ballot_of(uow.session, election_id):
            raise Conflict("the ballot has opened: no more candidates", {})
        if (
            request["member_id"]
            and not uow.session.execute(sa.select(members.c.id).where(members.c.id == request["member_id"])).first()
        ):
            raise NotFound(f"no member {request['member_id']!r}")
        uow.session.execute(
            candidates.insert().values(id=str(uuid.uuid4()), election_id=election_id, withdrawn=False, **request)
        )
        uow.commit()
        return _view(uow.session, election)


def withdraw_candidate(store: Any, actor: Actor, election_id: str, candidate_id: str) -> dict[str, Any]:
    require_role(actor, "admin")
    with store.unit_of_work() as uow:
        election = _election(uow.session, election_id, for_update=True)
        if _ballot_of(uow.session, election_id):
            raise Conflict("the ballot has opened: candidates can no longer withdraw", {})
        done = uow.session.execute(
            candidates.update()
            .where(candidates.c.id == candidate_id, candidates.c.election_id == election_id, ~candidates.c.withdrawn)
            .values(withdrawn=True)
        ).rowcount
        if not done:
            raise NotFound(f"election {election_id} has no standing candidate {candidate_id!r}")
        uow.commit()
        return _view(uow.session, election)


def open_election_ballot(store: Any, actor: Actor, election_id: str, payload: Any) -> str:
    from voting.balloting import _open

    require_role(actor, "admin")
    load(BallotOpening(), payload or {})
    with store.unit_of_work() as uow:
        election = _election(uow.session, election_id, for_update=True)
        standing = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(candidates)
            .where(candidates.c.election_id == election_id, ~candidates.c.withdrawn)
        )
        if standing == 0:
            raise Conflict("no candidate stands in this election", {})
        ballot_id = _open(uow, election.body_id, "election", election_id, election.secrecy)
        uow.commit()
    return ballot_id


def standing_candidates(session: Any, election_id: str) -> dict[str, Any]:
    rows = session.execute(
        sa.select(candidates).where(candidates.c.election_id == election_id, ~candidates.c.withdrawn)
    ).all()
    return {row.id: row for row in rows}


def check_election_vote(election: Any, standing: dict[str, Any], ranking: list[str] | None, marks: list[str] | None):
    """A ranked ballot names each candidate at most once, and only candidates of this election;
    a block ballot marks at most as many as there are seats."""
    if election.method == "block":
        if marks is None:
            raise InvalidInput("this is a block vote: give `marks`", {"marks": ["required"]})
        chosen, field = marks, "marks"
        if len(marks) > election.seats:
            raise InvalidInput(f"mark at most {election.seats} candidates", {"marks": [f"at most {election.seats}"]})
    else:
        if ranking is None:
            raise InvalidInput("this is an STV election: give `ranking`", {"ranking": ["required"]})
        chosen, field = ranking, "ranking"
    if len(set(chosen)) != len(chosen):
        raise InvalidInput("a candidate appears twice", {field: ["a candidate appears twice"]})
    unknown = [c for c in chosen if c not in standing]
    if unknown:
        raise InvalidInput("not a candidate in this election", {field: [f"unknown: {', '.join(unknown)}"]})
    return chosen


def fill_body(uow: Any, election: Any, elected: list[Any]) -> None:
    """The elected become the filled body's voting members; the members they replace leave it."""
    session = uow.session
    body = session.execute(sa.select(bodies).where(bodies.c.id == election.fills_body_id)).first()
    before = {
        r.member_id
        for r in session.execute(sa.select(body_members.c.member_id).where(body_members.c.body_id == body.id))
    }
    after = []
    for candidate in elected:
        member_id = candidate.member_id
        if member_id is None:
            # Elected from outside the electing body: a member without a credential until one is issued.
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
            session.execute(candidates.update().where(candidates.c.id == candidate.id).values(member_id=member_id))
        after.append(member_id)
    session.execute(body_members.delete().where(body_members.c.body_id == body.id))
    session.execute(
        body_members.insert(),
        [{"body_id": body.id, "member_id": m, "deliberative": True, "accredited": True} for m in after],
    )
    uow.emit(
        "body.membership_changed",
        {
            "body_id": body.id,
            "kind": body.kind,
            "members": after,
            "added": sorted(set(after) - before),
            "removed": sorted(before - set(after)),
            "reason": f"election {election.id}: {election.title}",
        },
    )
    log.info("body %s (%s) now has %d members after election %s", body.id, body.kind, len(after), election.id)
