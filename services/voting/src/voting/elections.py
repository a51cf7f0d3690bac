"""Use cases of elections: the Congress elects the IEC, the IEC elects the IS.

The rules are the domain's (voting.domain.elections: candidates, options and votes;
congress_counting.declaring: declared or failed); these load an election, call it and save it.
Declaring an election that fills a body seats the elected there, able to vote at once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from congress.actors import Actor, require_role
from congress.contract.api import BallotOpening, CandidateNomination, ElectionCreation, ElectionView, load
from congress.errors import InvalidInput, NotFound
from voting.adapters import repository
from voting.adapters.orm import ballots, bodies, candidates, elections, members
from voting.balloting import open_ballot
from voting.domain.elections import Candidate

log = logging.getLogger(__name__)


def _election(session: Any, election_id: str) -> Any:
    row = session.execute(sa.select(elections).where(elections.c.id == election_id)).first()
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
        election = repository.election(uow.session, election_id, for_update=True)
        if (
            request["member_id"]
            and not uow.session.execute(sa.select(members.c.id).where(members.c.id == request["member_id"])).first()
        ):
            raise NotFound(f"no member {request['member_id']!r}")
        candidate = Candidate(str(uuid.uuid4()), request["name"], request["email"], request["member_id"])
        election.nominate(candidate)
        repository.add_candidate(uow.session, election_id, candidate)
        uow.commit()
        return _view(uow.session, _election(uow.session, election_id))


def withdraw_candidate(store: Any, actor: Actor, election_id: str, candidate_id: str) -> dict[str, Any]:
    require_role(actor, "admin")
    with store.unit_of_work() as uow:
        election = repository.election(uow.session, election_id, for_update=True)
        repository.save_withdrawal(uow.session, election.withdraw(candidate_id))
        uow.commit()
        return _view(uow.session, _election(uow.session, election_id))


def open_election_ballot(store: Any, actor: Actor, election_id: str, payload: Any) -> str:
    require_role(actor, "admin")
    request = load(BallotOpening(), payload or {})
    # Only what the caller said: the schema's default must not pass for a request the election refuses.
    asked = request["secrecy"] if isinstance(payload, dict) and "secrecy" in payload else None
    with store.unit_of_work() as uow:
        election = repository.election(uow.session, election_id, for_update=True)
        ballot_id = open_ballot(uow, election, asked)
        uow.commit()
    return ballot_id
