"""Loading the domain's aggregates from the voting tables and saving what they became."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from congress.errors import NotFound
from voting.adapters.orm import (
    ballot_electorate,
    ballots,
    bodies,
    body_members,
    candidates,
    congresses,
    elections,
    members,
    motions,
)
from voting.domain.ballots import Ballot, Body, Motion, Seat, Voter
from voting.domain.elections import Candidate, Election


def body(session: Any, body_id: str) -> Body:
    row = session.execute(sa.select(bodies).where(bodies.c.id == body_id)).first()
    if row is None:
        raise NotFound(f"no body {body_id!r}")
    seats = [
        Seat(r.member_id, r.deliberative, r.accredited)
        for r in session.execute(
            sa.select(body_members.c.member_id, body_members.c.deliberative, body_members.c.accredited).where(
                body_members.c.body_id == body_id
            )
        )
    ]
    congress_status = session.scalar(sa.select(congresses.c.status).where(congresses.c.body_id == body_id))
    return Body(row.id, row.kind, row.name, row.quorum, seats, congress_status)


def save_membership(session: Any, filled: Body) -> None:
    session.execute(body_members.delete().where(body_members.c.body_id == filled.id))
    if filled.seats:
        session.execute(
            body_members.insert(),
            [
                {
                    "body_id": filled.id,
                    "member_id": seat.member_id,
                    "deliberative": seat.deliberative,
                    "accredited": seat.accredited,
                }
                for seat in filled.seats
            ],
        )


def _ballot_of(session: Any, subject_id: str) -> str | None:
    return session.scalar(sa.select(ballots.c.id).where(ballots.c.subject_id == subject_id))


def motion(session: Any, motion_id: str) -> Motion:
    row = session.execute(sa.select(motions).where(motions.c.id == motion_id)).first()
    if row is None:
        raise NotFound(f"no motion {motion_id!r}")
    return Motion(row.id, row.body_id, row.title, row.majority_rule, _ballot_of(session, motion_id))


def election(session: Any, election_id: str, for_update: bool = False) -> Election:
    query = sa.select(elections).where(elections.c.id == election_id)
    row = session.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"no election {election_id!r}")
    standing = [
        Candidate(c.id, c.name, c.email, c.member_id, c.withdrawn)
        for c in session.execute(
            sa.select(candidates).where(candidates.c.election_id == election_id).order_by(candidates.c.id)
        )
    ]
    return Election(
        id=row.id,
        body_id=row.body_id,
        fills_body_id=row.fills_body_id,
        title=row.title,
        seats=row.seats,
        method=row.method,
        secrecy=row.secrecy,
        candidates=standing,
        ballot_id=_ballot_of(session, election_id),
    )


def add_candidate(session: Any, election_id: str, candidate: Candidate) -> None:
    session.execute(
        candidates.insert().values(
            id=candidate.id,
            election_id=election_id,
            name=candidate.name,
            email=candidate.email,
            member_id=candidate.member_id,
            withdrawn=candidate.withdrawn,
        )
    )


def save_withdrawal(session: Any, candidate: Candidate) -> None:
    session.execute(candidates.update().where(candidates.c.id == candidate.id).values(withdrawn=candidate.withdrawn))


def subject(session: Any, ballot: Ballot) -> Motion | Election:
    return motion(session, ballot.subject_id) if ballot.kind == "motion" else election(session, ballot.subject_id)


def ballot(session: Any, ballot_id: str, for_share: bool = False) -> Ballot:
    query = sa.select(ballots).where(ballots.c.id == ballot_id)
    row = session.execute(query.with_for_update(read=True) if for_share else query).first()
    if row is None:
        raise NotFound(f"no ballot {ballot_id!r}")
    return Ballot(row.id, row.body_id, row.kind, row.subject_id, row.secrecy, row.status, row.electorate, row.quorum)


def add_ballot(session: Any, opened: Ballot) -> None:
    session.execute(
        ballots.insert().values(
            id=opened.id,
            body_id=opened.body_id,
            kind=opened.kind,
            subject_id=opened.subject_id,
            secrecy=opened.secrecy,
            status=opened.status,
            electorate=opened.electorate,
            quorum=opened.quorum,
            result=None,
            record=None,
        )
    )
    session.execute(ballot_electorate.insert(), [{"ballot_id": opened.id, "member_id": m} for m in opened.roll])


def save_closed(session: Any, closed: Ballot) -> bool:
    """Closed here, or False if another replica closed it first (only one close wins the row)."""
    return bool(
        session.execute(
            ballots.update().where(ballots.c.id == closed.id, ballots.c.status == "open").values(status=closed.status)
        ).rowcount
    )


def voter(session: Any, ballot_: Ballot, member_id: str) -> Voter | None:
    member = session.execute(
        sa.select(members.c.credential_revoked, body_members.c.deliberative)
        .join(body_members, body_members.c.member_id == members.c.id)
        .where(members.c.id == member_id, body_members.c.body_id == ballot_.body_id)
    ).first()
    if member is None:
        return None
    in_electorate = session.execute(
        sa.select(ballot_electorate.c.member_id).where(
            ballot_electorate.c.ballot_id == ballot_.id, ballot_electorate.c.member_id == member_id
        )
    ).first()
    return Voter(member_id, member.deliberative, in_electorate is not None, member.credential_revoked)
