"""Loading the domain's aggregates from the voting tables and saving what they became."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from congress.errors import Forbidden, NotAuthenticated, NotFound
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
    participation,
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
    return _ballot_from(row)


def _ballot_from(row: Any) -> Ballot:
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


def _ballot_and_voter_query(who: Any, ballot_ids: Any = None) -> Any:
    """Built once per way of naming the voter: on the hot path a statement is bound, not rebuilt."""
    return (
        sa.select(
            members.c.credential_hash,
            ballots.c.id,
            ballots.c.body_id,
            ballots.c.kind,
            ballots.c.subject_id,
            ballots.c.secrecy,
            ballots.c.status,
            ballots.c.electorate,
            ballots.c.quorum,
            members.c.id.label("voter_id"),
            members.c.credential_revoked,
            body_members.c.deliberative,
            ballot_electorate.c.member_id.label("on_roll"),
            participation.c.request_id,
            participation.c.sealed_receipt,
            participation.c.member_id.label("voted"),
        )
        .select_from(ballots)
        .join(members, who)
        .outerjoin(
            body_members,
            sa.and_(body_members.c.body_id == ballots.c.body_id, body_members.c.member_id == members.c.id),
        )
        .outerjoin(
            ballot_electorate,
            sa.and_(ballot_electorate.c.ballot_id == ballots.c.id, ballot_electorate.c.member_id == members.c.id),
        )
        .outerjoin(
            participation,
            sa.and_(participation.c.ballot_id == ballots.c.id, participation.c.member_id == members.c.id),
        )
        .where(ballots.c.id == sa.bindparam("ballot_id") if ballot_ids is None else ballots.c.id.in_(ballot_ids))
        .with_for_update(read=True, of=ballots)
    )


_BY_MEMBER = _ballot_and_voter_query(members.c.id == sa.bindparam("who"))
_BY_CREDENTIAL = _ballot_and_voter_query(members.c.credential_hash == sa.bindparam("who"))
_BY_CREDENTIALS = _ballot_and_voter_query(
    members.c.credential_hash.in_(sa.bindparam("whos", expanding=True)), sa.bindparam("ballot_ids", expanding=True)
)

# The ballot, the voter's member id, the voter as the ballot sees them, their earlier vote (or None).
VoterRead = tuple[Ballot, str, Voter | None, Any]


def ballots_and_voters(session: Any, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], VoterRead]:
    """`ballot_and_voter` for many votes, (ballot id, credential hash) each, in one statement: what
    it finds of a credential in good standing. The rest (an unknown or revoked credential, a ballot
    not there) is for `ballot_and_voter` to read and refuse one by one, as it would alone."""
    if not wanted:
        return {}
    rows = session.execute(
        _BY_CREDENTIALS,
        {"ballot_ids": sorted({ballot_id for ballot_id, _ in wanted}), "whos": sorted({who for _, who in wanted})},
    ).all()
    return {(row.id, row.credential_hash): _voter_read(row) for row in rows if not row.credential_revoked}


def _voter_read(row: Any) -> VoterRead:
    voter = (
        None
        if row.deliberative is None
        else Voter(row.voter_id, row.deliberative, row.on_roll is not None, row.credential_revoked)
    )
    return _ballot_from(row), row.voter_id, voter, row if row.voted is not None else None


def ballot_and_voter(
    session: Any, ballot_id: str, member_id: str | None = None, credential_hash: str | None = None
) -> VoterRead:
    """A vote's one read: the ballot (FOR SHARE), the voter as it sees them (None: not in its body)
    and their earlier participation row, if any. The voter is named by member id or by the hash of
    the credential they presented: an unknown credential is NotAuthenticated, a revoked one
    Forbidden, before anything is said about the ballot."""
    by_credential = credential_hash is not None
    row = session.execute(
        _BY_CREDENTIAL if by_credential else _BY_MEMBER,
        {"ballot_id": ballot_id, "who": credential_hash if by_credential else member_id},
    ).first()
    if row is None:  # the credential, the member or the ballot is unknown: say which
        if by_credential:
            known = session.scalar(sa.select(members.c.id).where(members.c.credential_hash == credential_hash))
            if known is None:
                raise NotAuthenticated("the bearer token is not valid (unknown or revoked)")
        return ballot(session, ballot_id, for_share=True), str(member_id), None, None
    if by_credential and row.credential_revoked:
        raise Forbidden("your credential has been revoked; ask the Secretariat for a new one")
    return _voter_read(row)
