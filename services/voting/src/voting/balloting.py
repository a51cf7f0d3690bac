"""Use cases of motions and ballots: table, open, vote, close, publish.

Secret ballots keep who voted (`participation`) apart from what was voted (`ballot_box`, under
the voter's receipt). The receipt is random. A vote writes both rows in one transaction, so a
reader of the database or its WAL can pair them while the ballot is open: what they hold is
therefore sealed with AES-GCM under the ballot key, which is not in the database
(`voting.domain.sealing`). The box row is a random slot and the sealed receipt and choice, of one
length for the whole ballot; the participation row keeps the receipt and the slot only sealed, so a
retry gets the same receipt back. The close opens the box and rewrites both tables for the ballot
in one transaction, the box in clear in receipt order and participation in member order without
the sealed receipt and the request ids, so neither row order, PostgreSQL's transaction ids nor
the WAL join them.
"""

from __future__ import annotations

import functools
import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError

from congress.actors import Actor, require_role
from congress.contract.api import BallotOpening, BallotView, MotionTabling, MotionView, VoteSubmission, load
from congress.errors import Conflict, Forbidden, InvalidInput, NotFound
from congress.keys import ballot_key, record_signing_key
from voting.adapters.orm import (
    ballot_box,
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
from voting.domain import sealing
from voting.domain.ballots import Ballot, Voter, check_repeat, check_vote
from voting.domain.congresses import may_vote
from voting.domain.motions import CHOICES, default_quorum, tally
from voting.domain.record import decision_summary, election_record, motion_record, sign_record

log = logging.getLogger(__name__)

_HELD = {"receipt": "0" * 32, "slot": "0" * 32}  # what participation seals: always this length


@functools.cache
def sealer() -> AESGCM:
    """The ballot key (BALLOT_KEY or BALLOT_KEY_FILE), read once per process."""
    return AESGCM(ballot_key())


def _one(session: Any, query: Any, missing: str) -> Any:
    row = session.execute(query).first()
    if row is None:
        raise NotFound(missing)
    return row


# Motions


def table_motion(store: Any, actor: Actor, body_id: str, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(MotionTabling(), payload)
    motion = {"id": str(uuid.uuid4()), "body_id": body_id, "tabled_at": datetime.now(UTC), **request}
    with store.unit_of_work() as uow:
        _one(uow.session, sa.select(bodies.c.id).where(bodies.c.id == body_id), f"no body {body_id!r}")
        uow.session.execute(motions.insert().values(**motion))
        uow.emit(
            "motion.tabled",
            {
                "motion_id": motion["id"],
                "body_id": body_id,
                "title": motion["title"],
                "mover": motion["mover"],
                "majority_rule": motion["majority_rule"],
            },
        )
        uow.commit()
    return MotionView().dump({**motion, "ballot_id": None})


def get_motion(store: Any, motion_id: str) -> dict[str, Any]:
    with store.session() as session:
        motion = _one(session, sa.select(motions).where(motions.c.id == motion_id), f"no motion {motion_id!r}")
        ballot_id = session.scalar(sa.select(ballots.c.id).where(ballots.c.subject_id == motion_id))
        return MotionView().dump({**motion._mapping, "ballot_id": ballot_id})


def list_motions(store: Any, body_id: str) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(
            sa.select(motions, ballots.c.id.label("ballot_id"))
            .outerjoin(ballots, ballots.c.subject_id == motions.c.id)
            .where(motions.c.body_id == body_id)
            .order_by(motions.c.tabled_at)
        ).all()
        return MotionView(many=True).dump([row._mapping for row in rows])


# Ballots


def open_motion_ballot(store: Any, actor: Actor, motion_id: str, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(BallotOpening(), payload or {})
    with store.unit_of_work() as uow:
        motion = _one(uow.session, sa.select(motions).where(motions.c.id == motion_id), f"no motion {motion_id!r}")
        ballot_id = _open(uow, motion.body_id, "motion", motion_id, request["secrecy"])
        uow.commit()
    return get_ballot(store, ballot_id)


def _open(uow: Any, body_id: str, kind: str, subject_id: str, secrecy: str) -> str:
    """Open a ballot of a body and fix its electorate: the accredited voting members, now."""
    session = uow.session
    body = _one(session, sa.select(bodies).where(bodies.c.id == body_id), f"no body {body_id!r}")
    congress = session.execute(sa.select(congresses.c.status).where(congresses.c.body_id == body_id)).first()
    if congress is not None:
        may_vote(congress.status)
    if session.scalar(sa.select(ballots.c.id).where(ballots.c.subject_id == subject_id)):
        raise Conflict(f"{kind} {subject_id} already has a ballot", {})
    electorate = [
        row.member_id
        for row in session.execute(
            sa.select(body_members.c.member_id)
            .join(members, members.c.id == body_members.c.member_id)
            .where(
                body_members.c.body_id == body_id,
                body_members.c.deliberative,
                body_members.c.accredited,
            )
        )
    ]
    if not electorate:
        raise Conflict(f"the body {body.name!r} has no accredited voting members", {})
    quorum = body.quorum or default_quorum(len(electorate))
    ballot_id = str(uuid.uuid4())
    session.execute(
        ballots.insert().values(
            id=ballot_id,
            body_id=body_id,
            kind=kind,
            subject_id=subject_id,
            secrecy=secrecy,
            status="open",
            electorate=len(electorate),
            quorum=quorum,
            result=None,
            record=None,
        )
    )
    session.execute(ballot_electorate.insert(), [{"ballot_id": ballot_id, "member_id": m} for m in electorate])
    uow.emit(
        "ballot.opened",
        {
            "ballot_id": ballot_id,
            "body_id": body_id,
            "kind": kind,
            "subject_id": subject_id,
            "secrecy": secrecy,
            "electorate": len(electorate),
            "quorum": quorum,
        },
    )
    return ballot_id


def get_ballot(store: Any, ballot_id: str) -> dict[str, Any]:
    with store.session() as session:
        ballot = _one(session, sa.select(ballots).where(ballots.c.id == ballot_id), f"no ballot {ballot_id!r}")
        cast = session.scalar(
            sa.select(sa.func.count()).select_from(participation).where(participation.c.ballot_id == ballot_id)
        )
        return BallotView().dump({**ballot._mapping, "votes_cast": cast})


def get_record(store: Any, ballot_id: str) -> dict[str, Any]:
    with store.session() as session:
        ballot = _one(
            session,
            sa.select(ballots.c.status, ballots.c.record).where(ballots.c.id == ballot_id),
            f"no ballot {ballot_id!r}",
        )
    if ballot.record is None:
        raise Conflict(f"ballot {ballot_id} is {ballot.status}; its record is published when it closes", {})
    return ballot.record


def cast_vote(store: Any, actor: Actor, ballot_id: str, payload: Any, receipt_key: str = "") -> dict[str, Any]:
    """`receipt_key` (optional) is one only the voter's credential makes: it is bound into the sealed
    receipt, so after a reissued credential a retry is refused as a second vote."""
    require_role(actor, "delegate")
    if not actor.member:
        raise Forbidden("this token does not belong to a member of any body")
    vote = load(VoteSubmission(), payload)
    request_id = vote.pop("request_id") or str(uuid.uuid4())
    for _attempt in range(3):
        try:
            return _cast(store, actor.member, ballot_id, vote, request_id, receipt_key)
        except IntegrityError:
            continue  # the same voter's concurrent submission committed first: answer as a repeat
    raise Conflict("your vote could not be recorded; try again", {})


def _cast(
    store: Any, member_id: str, ballot_id: str, vote: dict[str, Any], request_id: str, receipt_key: str
) -> dict[str, Any]:
    with store.unit_of_work() as uow:
        session = uow.session
        # FOR SHARE: a close (FOR UPDATE) waits for votes in flight, and counts them.
        row = _one(
            session,
            sa.select(ballots).where(ballots.c.id == ballot_id).with_for_update(read=True),
            f"no ballot {ballot_id!r}",
        )
        ballot = Ballot(id=row.id, body_id=row.body_id, kind=row.kind, secrecy=row.secrecy, status=row.status)
        voter = _voter(session, ballot, member_id)
        previous = session.execute(
            sa.select(participation).where(
                participation.c.ballot_id == ballot_id, participation.c.member_id == member_id
            )
        ).first()
        check_vote(ballot, voter, None, ())  # open, and theirs to vote in, before what they voted
        choice, ranking = _what_was_voted(session, ballot.kind, row.subject_id, vote)
        if previous is not None:
            receipt, before = _earlier(session, ballot_id, member_id, previous.sealed_receipt, receipt_key)
            check_repeat(previous.request_id, request_id, before, (choice, ranking))
            return {"ballot_id": ballot_id, "receipt": receipt}
        named = ballot.secrecy == "named"
        receipt = secrets.token_hex(16)  # random: a credential known later reveals nothing
        slot = secrets.token_hex(16)  # the box row's key until the close: random, it leads nowhere
        session.execute(
            participation.insert().values(
                ballot_id=ballot_id,
                member_id=member_id,
                request_id=request_id,
                choice=choice if named else None,
                ranking=ranking if named else None,
                sealed_receipt=sealing.seal(
                    sealer(),
                    {"receipt": receipt, "slot": slot},
                    sealing.receipt_aad(ballot_id, member_id, receipt_key),
                    sealing.padded_size(_HELD),
                ),
            )
        )
        # Named ballots too: one way through the box for every ballot (their votes are public anyway).
        sealed = sealing.seal(
            sealer(),
            {"receipt": receipt, "choice": choice, "ranking": ranking},
            sealing.box_aad(ballot_id),
            _box_size(session, ballot.kind, row.subject_id),
        )
        session.execute(ballot_box.insert().values(ballot_id=ballot_id, receipt=slot, sealed=sealed))
        session.flush()
        uow.serialise_events()  # votes are counted in commit order
        cast = session.scalar(
            sa.select(sa.func.count()).select_from(participation).where(participation.c.ballot_id == ballot_id)
        )
        uow.emit("vote.recorded", {"ballot_id": ballot_id, "votes_cast": cast, "electorate": row.electorate})
        uow.commit()
    return {"ballot_id": ballot_id, "receipt": receipt}


def _earlier(
    session: Any, ballot_id: str, member_id: str, sealed_receipt: bytes | None, receipt_key: str
) -> tuple[str, tuple[str | None, list[str] | None] | None]:
    """The receipt a voter got and what they voted, to answer a retry; ("", None) if unknown."""
    if sealed_receipt is None:  # written before ballots were sealed
        return "", None
    try:
        held = sealing.unseal(sealer(), sealed_receipt, sealing.receipt_aad(ballot_id, member_id, receipt_key))
    except sealing.SealError:
        return "", None  # sealed for another credential (reissued since): not a retry of this one
    box = session.execute(
        sa.select(ballot_box.c.sealed).where(ballot_box.c.ballot_id == ballot_id, ballot_box.c.receipt == held["slot"])
    ).first()
    if box is None or box.sealed is None:
        return held["receipt"], None
    voted = sealing.unseal(sealer(), box.sealed, sealing.box_aad(ballot_id))
    return held["receipt"], (voted["choice"], voted["ranking"])


def _box_size(session: Any, kind: str, subject_id: str) -> int:
    """One sealed length for the whole ballot: that of the longest ballot it can hold (every
    candidate of the election ranked, withdrawn ones too, or the longest choice)."""
    if kind == "motion":
        longest = {"choice": max(CHOICES, key=len), "ranking": None}
    else:
        every = session.scalars(sa.select(candidates.c.id).where(candidates.c.election_id == subject_id)).all()
        longest = {"choice": None, "ranking": list(every)}
    return sealing.padded_size({"receipt": "0" * 32, **longest})


def _what_was_voted(
    session: Any, kind: str, subject_id: str, vote: dict[str, Any]
) -> tuple[str | None, list[str] | None]:
    """(choice, ranking): a motion takes a choice; an election a ranking (STV) or marks (block)."""
    from voting.elections import check_election_vote, standing_candidates

    if kind == "motion":
        if "choice" not in vote:
            raise InvalidInput("this ballot is on a motion: give `choice`", {"choice": ["required"]})
        return vote["choice"], None
    election = session.execute(sa.select(elections).where(elections.c.id == subject_id)).first()
    chosen = check_election_vote(
        election, standing_candidates(session, election.id), vote.get("ranking"), vote.get("marks")
    )
    return None, list(chosen)


def _voter(session: Any, ballot: Ballot, member_id: str) -> Voter | None:
    member = session.execute(
        sa.select(members.c.credential_revoked, body_members.c.deliberative)
        .join(body_members, body_members.c.member_id == members.c.id)
        .where(members.c.id == member_id, body_members.c.body_id == ballot.body_id)
    ).first()
    if member is None:
        return None
    in_electorate = session.execute(
        sa.select(ballot_electorate.c.member_id).where(
            ballot_electorate.c.ballot_id == ballot.id, ballot_electorate.c.member_id == member_id
        )
    ).first()
    return Voter(
        member_id=member_id, voting=bool(in_electorate and member.deliberative), revoked=member.credential_revoked
    )


def close_ballot(store: Any, actor: Actor, ballot_id: str) -> dict[str, Any]:
    """Close, count and publish, exactly once however many replicas are asked at the same time."""
    require_role(actor, "admin")
    with store.unit_of_work() as uow:
        session = uow.session
        closed_now = session.execute(
            ballots.update().where(ballots.c.id == ballot_id, ballots.c.status == "open").values(status="closed")
        ).rowcount
        if not closed_now:
            row = _one(
                session, sa.select(ballots.c.status).where(ballots.c.id == ballot_id), f"no ballot {ballot_id!r}"
            )
            if row.status != "closed":
                raise Conflict(f"ballot {ballot_id} is {row.status}; only an open ballot can be closed", {})
            log.info("ballot %s was already closed: answered with its result", ballot_id)
            return get_ballot(store, ballot_id)  # someone else closed it: the same answer, no new events
        ballot = session.execute(sa.select(ballots).where(ballots.c.id == ballot_id)).first()
        box = _opened_box(session, ballot_id)
        voted = session.execute(
            sa.select(
                participation.c.member_id,
                participation.c.choice,
                participation.c.ranking,
                members.c.name,
                members.c.section,
            )
            .join(members, members.c.id == participation.c.member_id)
            .where(participation.c.ballot_id == ballot_id)
        ).all()
        named = ballot.secrecy == "named"
        participants = [
            {
                "member_id": v.member_id,
                "name": v.name,
                "section": v.section,
                **({"choice": v.choice} if named and v.choice else {}),
                **({"ranking": v.ranking} if named and v.ranking else {}),
            }
            for v in voted
        ]
        if ballot.kind == "motion":
            record = _close_motion(uow, ballot, box, participants)
        else:
            record = _close_election(uow, ballot, box, participants)
        record = sign_record(record, record_signing_key())  # anyone can verify it with GET /api/v1/keys
        unlink(session, ballot_id, box)
        session.execute(
            ballots.update().where(ballots.c.id == ballot_id).values(result=record["result"], record=record)
        )
        uow.commit()
    vacuum(store.engine)
    log.info("closed ballot %s", ballot_id)
    return get_ballot(store, ballot_id)


def _close_motion(uow: Any, ballot: Any, box: list[dict], participants: list[dict]) -> dict[str, Any]:
    motion = uow.session.execute(sa.select(motions).where(motions.c.id == ballot.subject_id)).first()
    described = {
        "id": ballot.id,
        "kind": "motion",
        "motion_id": motion.id,
        "title": motion.title,
        "body_id": ballot.body_id,
        "secrecy": ballot.secrecy,
        "majority_rule": motion.majority_rule,
        "electorate": ballot.electorate,
        "quorum": ballot.quorum,
    }
    result = decision_summary(tally(b["choice"] for b in box), described)
    record = motion_record(
        described, [{"receipt": b["receipt"], "choice": b["choice"]} for b in box], participants, result
    )
    uow.emit(
        "ballot.closed",
        {
            "ballot_id": ballot.id,
            "body_id": ballot.body_id,
            "kind": "motion",
            "votes_cast": len(box),
            "electorate": ballot.electorate,
            "digest": record["digest"],
        },
    )
    uow.emit(
        "motion.decided",
        {
            "motion_id": motion.id,
            "ballot_id": ballot.id,
            "title": motion.title,
            "outcome": result["outcome"],
            "adopted": result["outcome"] == "adopted",
            "tally": result["tally"],
            "majority_rule": result["majority_rule"],
            "majority_met": result["majority_met"],
            "quorum": result["quorum"],
            "quorum_met": result["quorum_met"],
            "electorate": result["electorate"],
        },
    )
    return record


def _close_election(uow: Any, ballot: Any, box: list[dict], participants: list[dict]) -> dict[str, Any]:
    from voting.elections import fill_body, standing_candidates

    session = uow.session
    election = session.execute(sa.select(elections).where(elections.c.id == ballot.subject_id)).first()
    standing = standing_candidates(session, election.id)
    described = {
        "id": ballot.id,
        "kind": "election",
        "election_id": election.id,
        "title": election.title,
        "body_id": ballot.body_id,
        "secrecy": ballot.secrecy,
        "method": election.method,
        "seats": election.seats,
        "electorate": ballot.electorate,
        "quorum": ballot.quorum,
        "seed": ballot.id,
        "candidates": {cid: c.name for cid, c in sorted(standing.items())},
    }
    record = election_record(described, [{"receipt": b["receipt"], "ranking": b["ranking"]} for b in box], participants)
    result = record["result"]
    elected = [standing[cid] for cid in result["elected"]]
    uow.emit(
        "ballot.closed",
        {
            "ballot_id": ballot.id,
            "body_id": ballot.body_id,
            "kind": "election",
            "votes_cast": len(box),
            "electorate": ballot.electorate,
            "digest": record["digest"],
        },
    )
    uow.emit(
        "election.result_declared",
        {
            "election_id": election.id,
            "ballot_id": ballot.id,
            "body_id": ballot.body_id,
            "fills_body_id": election.fills_body_id,
            "title": election.title,
            "method": election.method,
            "seats": election.seats,
            "quota": result["quota"],
            "elected": [{"candidate_id": c.id, "name": c.name, "member_id": c.member_id} for c in elected],
            "rounds": result["rounds"],
            "digest": record["digest"],
        },
    )
    if election.fills_body_id:
        fill_body(uow, election, elected)
    return record


def _opened_box(session: Any, ballot_id: str) -> list[dict[str, Any]]:
    """The ballot box in clear, in receipt order: every sealed ballot opened (a ballot open across
    the upgrade that brought sealing has rows in clear already)."""
    box = []
    for row in session.execute(sa.select(ballot_box).where(ballot_box.c.ballot_id == ballot_id)):
        if row.sealed is None:
            box.append({"receipt": row.receipt, "choice": row.choice, "ranking": row.ranking})
            continue
        try:
            voted = sealing.unseal(sealer(), row.sealed, sealing.box_aad(ballot_id))
        except sealing.SealError:
            log.error("ballot %s: a sealed ballot does not open with this BALLOT_KEY; it stays open", ballot_id)
            raise
        box.append({"receipt": voted["receipt"], "choice": voted["choice"], "ranking": voted["ranking"]})
    return sorted(box, key=lambda b: b["receipt"])


def unlink(session: Any, ballot_id: str, box: list[dict[str, Any]]) -> None:
    """Rewrite the ballot's box (`box`: opened, in clear) and participation in one go: one
    transaction id for all rows, and a physical order (receipt, member) that says nothing of when
    anyone voted. Deleted and inserted anew, never updated in place: an update's WAL record would
    tie each sealed row to its row in clear."""
    voted = session.execute(sa.select(participation).where(participation.c.ballot_id == ballot_id)).all()
    session.execute(ballot_box.delete().where(ballot_box.c.ballot_id == ballot_id))
    session.execute(participation.delete().where(participation.c.ballot_id == ballot_id))
    if box:
        session.execute(
            ballot_box.insert(),
            [
                {"ballot_id": ballot_id, "receipt": b["receipt"], "choice": b["choice"], "ranking": b["ranking"]}
                for b in sorted(box, key=lambda b: b["receipt"])
            ],
        )
    if voted:
        session.execute(
            participation.insert(),
            [
                {**r._mapping, "request_id": None, "sealed_receipt": None}
                for r in sorted(voted, key=lambda r: r.member_id)
            ],
        )


def vacuum(engine: sa.Engine) -> None:
    """Drop the dead row versions the rewrite left, which still held the voting order."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ballot_box, participation"))
    except Exception:  # a concurrent vacuum or a missing privilege must not fail the close
        log.warning("vacuum after a ballot close failed", exc_info=True)
