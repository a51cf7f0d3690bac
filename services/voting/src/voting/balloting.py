"""Use cases of motions and ballots: table, open, vote, close, publish.

The rules are the ballot aggregate's (voting.domain.ballots): each use case loads what it needs
(voting.adapters.repository), calls it, and saves what it became with the events it says.

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
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError

from congress.actors import Actor, require_role
from congress.contract.api import (
    BallotOpening,
    BallotView,
    GatheredVote,
    GatheredVotes,
    MotionTabling,
    MotionView,
    VoteSubmission,
    load,
)
from congress.errors import Conflict, CongressError, Forbidden, InvalidInput, NotFound, error_to_wire
from congress.keys import ballot_key, record_signing_key
from congress_counting.motions import CHOICES
from congress_counting.record import sign_record
from voting.adapters import repository
from voting.adapters.orm import ballot_box, ballots, members, motions, participation
from voting.congress import fill_body
from voting.domain import sealing
from voting.domain.ballots import Ballot, Motion, check_repeat
from voting.domain.elections import Election

log = logging.getLogger(__name__)

_HELD = {"receipt": "0" * 32, "slot": "0" * 32}  # what participation seals: always this length
# A vote's two inserts, built once (SQLAlchemy then reuses their compiled form as it is).
_PARTICIPATE = participation.insert()
_VOTE = VoteSubmission()
_GATHERED = GatheredVotes()
_GATHERED_VOTE = GatheredVote()
_SHUFFLE = secrets.SystemRandom()
_YIELD_EVERY = 8  # votes planned between two chances for other greenthreads to run
_DROP_IN_BOX = ballot_box.insert()


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
        repository.body(uow.session, body_id).check_takes_motions()
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
        motion = repository.motion(uow.session, motion_id)
        ballot_id = open_ballot(uow, motion, request["secrecy"])
        uow.commit()
    return get_ballot(store, ballot_id)


def open_ballot(uow: Any, subject: Motion | Election, asked_secrecy: str | None) -> str:
    """Open the subject's ballot in its body: the domain fixes the electorate, quorum and secrecy."""
    body = repository.body(uow.session, subject.body_id)
    ballot = Ballot.open(str(uuid.uuid4()), body, subject, asked_secrecy)
    repository.add_ballot(uow.session, ballot)
    for event_type, data in ballot.events:
        uow.emit(event_type, data)
    return ballot.id


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
    return _cast_once(store, Caster(member_id=actor.member), ballot_id, payload, receipt_key)


def cast_vote_with_credential(
    store: Any, presented_hash: str, ballot_id: str, payload: Any, receipt_key: str = ""
) -> dict[str, Any]:
    """A vote in one call: the credential (its hash) is looked up in the vote's own transaction,
    so the gateway need not ask who it is first (one RPC per vote, not two)."""
    return _cast_once(store, Caster(credential_hash=presented_hash), ballot_id, payload, receipt_key)


def _cast_once(
    store: Any, caster: Caster, ballot_id: str, payload: Any, receipt_key: str, correlation_id: str | None = None
) -> dict[str, Any]:
    generated = str(uuid.uuid4())  # the same on every attempt below
    for _attempt in range(3):
        try:
            return _cast(store, caster, ballot_id, payload, generated, receipt_key, correlation_id)
        except IntegrityError:
            continue  # the same voter's concurrent submission committed first: answer as a repeat
    raise Conflict("your vote could not be recorded; try again", {})


@dataclass(frozen=True)
class Caster:
    """Who casts a vote: a member the gateway identified, or the hash of the credential presented."""

    member_id: str | None = None
    credential_hash: str | None = None


# A ballot's subject (its motion, or its election with the candidates) cannot change once the ballot
# is open, so each process reads it once per ballot instead of once per vote.
_SUBJECTS: dict[str, Motion | Election] = {}
_SUBJECTS_KEPT = 256


def _subject(session: Any, ballot: Ballot) -> Motion | Election:
    subject = _SUBJECTS.get(ballot.id)
    if subject is None:
        subject = repository.subject(session, ballot)
        if len(_SUBJECTS) >= _SUBJECTS_KEPT:
            _SUBJECTS.clear()
        _SUBJECTS[ballot.id] = subject
    return subject


@dataclass(frozen=True)
class _Planned:
    """A vote checked and sealed, not yet written: what `_record` writes, in a batch or alone."""

    answer: dict[str, Any]  # what the voter is told: the ballot and their receipt
    ballot_id: str = ""
    member_id: str = ""
    participation: dict[str, Any] | None = None  # None: a repeat, answered with the earlier receipt
    box: dict[str, Any] | None = None
    electorate: int = 0


def _plan(
    session: Any,
    caster: Caster,
    ballot_id: str,
    payload: Any,
    generated: str,
    receipt_key: str,
    read: repository.VoterRead | None = None,
) -> _Planned:
    # One read (`read`, when a batch's one statement read it already): the ballot (FOR SHARE: a
    # close, FOR UPDATE, waits for votes in flight and counts them), the voter as this ballot sees
    # them and their earlier vote, if any. Who votes is settled before what they sent is read
    # (401 before 400).
    ballot, member_id, voter, previous = read or repository.ballot_and_voter(
        session, ballot_id, member_id=caster.member_id, credential_hash=caster.credential_hash
    )
    vote = load(_VOTE, payload)
    request_id = vote.pop("request_id") or generated
    subject = _subject(session, ballot)
    choice, ranking = ballot.cast(voter, subject, vote)
    if previous is not None:
        receipt, before = _earlier(session, ballot_id, member_id, previous.sealed_receipt, receipt_key)
        check_repeat(previous.request_id, request_id, before, (choice, ranking))
        return _Planned({"ballot_id": ballot_id, "receipt": receipt})
    named = ballot.secrecy == "named"
    receipt = secrets.token_hex(16)  # random: a credential known later reveals nothing
    slot = secrets.token_hex(16)  # the box row's key until the close: random, it leads nowhere
    held = sealing.seal(
        sealer(),
        {"receipt": receipt, "slot": slot},
        sealing.receipt_aad(ballot_id, member_id, receipt_key),
        sealing.padded_size(_HELD),
    )
    # Named ballots too: one way through the box for every ballot (their votes are public anyway).
    sealed = sealing.seal(
        sealer(),
        {"receipt": receipt, "choice": choice, "ranking": ranking},
        sealing.box_aad(ballot_id),
        _box_size(subject),
    )
    return _Planned(
        {"ballot_id": ballot_id, "receipt": receipt},
        ballot_id,
        member_id,
        participation={
            "ballot_id": ballot_id,
            "member_id": member_id,
            "request_id": request_id,
            "choice": choice if named else None,
            "ranking": ranking if named else None,
            "sealed_receipt": held,
        },
        box={"ballot_id": ballot_id, "receipt": slot, "sealed": sealed},
        electorate=ballot.electorate,
    )


def _record(uow: Any, planned: list[_Planned], correlation_ids: list[str | None] | None = None) -> None:
    """Write new votes: their participation and box rows, and a vote.recorded each, a statement each."""
    if not planned:
        return
    uow.session.execute(_PARTICIPATE, [vote.participation for vote in planned])
    boxes = [vote.box for vote in planned]
    _SHUFFLE.shuffle(boxes)  # a batch's box rows in another order than its participation rows
    uow.session.execute(_DROP_IN_BOX, boxes)
    # Turnout without a count under a lock: the relay numbers this ballot's vote.recorded events
    # as it publishes them, so the k-th in the log says k votes were cast (exact and monotone).
    uow.emit_many(
        [
            (
                "vote.recorded",
                {"ballot_id": vote.ballot_id, "votes_cast": 0, "electorate": vote.electorate},
                (f"turnout:{vote.ballot_id}", "votes_cast"),
            )
            for vote in planned
        ],
        correlation_ids,
    )


def _cast(
    store: Any,
    caster: Caster,
    ballot_id: str,
    payload: Any,
    generated: str,
    receipt_key: str,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    with store.unit_of_work(correlation_id) as uow:
        planned = _plan(uow.session, caster, ballot_id, payload, generated, receipt_key)
        if planned.participation is None:
            return planned.answer
        _record(uow, [planned])
        uow.commit()
    return planned.answer


def cast_votes(store: Any, votes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Many delegates' votes, each by the hash of the credential it came with, in one transaction:
    one commit and one call for all of them (the gateway gathers the votes that arrive while its
    earlier batches are in flight). Each vote's answer is its own, in order: {"ok": receipt} or
    {"error": the domain error, serialised}; one vote's refusal is not the others'.

    A vote is the same as one cast alone (`cast_vote_with_credential`): the same checks, the same
    rows. Should the batch's commit find a vote already there (a voter's concurrent submission
    through another gateway or replica), each vote is cast again alone, which answers that one as
    a repeat; a voter's second submission in the same batch waits for the first to commit."""
    batch = load(_GATHERED, {"votes": votes})["votes"]
    answers: list[dict[str, Any]] = [{} for _ in batch]
    checked: list[int] = []
    for index, item in enumerate(batch):
        try:
            batch[index] = _gathered_vote(item)
            checked.append(index)
        except CongressError as exc:
            answers[index] = {"error": error_to_wire(exc)}
    votes = [batch[index] for index in checked]
    generated = [str(uuid.uuid4()) for _ in votes]  # a request id for each vote that came without one
    try:
        together, alone = _cast_together(store, votes, generated)
    except IntegrityError:
        together, alone = [{} for _ in votes], list(range(len(votes)))
    for index in alone:
        vote = votes[index]
        try:
            receipt = _cast_once(
                store,
                Caster(credential_hash=vote["credential_hash"]),
                vote["ballot_id"],
                vote["vote"],
                vote["receipt_key"],
                vote.get("correlation_id"),
            )
            together[index] = {"ok": receipt}
        except CongressError as exc:
            together[index] = {"error": error_to_wire(exc)}
    for index, answer in zip(checked, together, strict=True):
        answers[index] = answer
    return answers


def _gathered_vote(item: Any) -> dict[str, Any]:
    """One vote of a batch, validated; a ballot id that cannot be one (it came in the URL's path)
    is a ballot not found. (A vote cast alone answers an unknown credential before an unknown
    ballot; here such an id is refused first. Neither answer tells anything about the other.)"""
    try:
        return load(_GATHERED_VOTE, item)
    except InvalidInput as exc:
        if set(exc.fields) == {"ballot_id"}:
            raise NotFound(f"no ballot {item.get('ballot_id')!r}") from None
        raise


def _cast_together(
    store: Any, votes: list[dict[str, Any]], generated: list[str]
) -> tuple[list[dict[str, Any]], list[int]]:
    answers: list[dict[str, Any]] = [{} for _ in votes]
    alone: list[int] = []  # a voter's second vote in this batch: cast after the first commits
    planned: list[_Planned] = []
    correlation_ids: list[str | None] = []
    voters: set[tuple[str, str]] = set()
    with store.unit_of_work() as uow:
        read = repository.ballots_and_voters(uow.session, [(v["ballot_id"], v["credential_hash"]) for v in votes])
        for index, vote in enumerate(votes):
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                # Planning needs no I/O once read: under nameko (time is cooperative) let the
                # relay and the other calls run now and then, not after the whole batch.
                time.sleep(0)
            try:
                plan = _plan(
                    uow.session,
                    Caster(credential_hash=vote["credential_hash"]),
                    vote["ballot_id"],
                    vote["vote"],
                    generated[index],
                    vote["receipt_key"],
                    read.get((vote["ballot_id"], vote["credential_hash"])),
                )
            except CongressError as exc:
                answers[index] = {"error": error_to_wire(exc)}
                continue
            if plan.participation is None:
                answers[index] = {"ok": plan.answer}
            elif (plan.ballot_id, plan.member_id) in voters:
                alone.append(index)
            else:
                voters.add((plan.ballot_id, plan.member_id))
                planned.append(plan)
                correlation_ids.append(vote.get("correlation_id"))
                answers[index] = {"ok": plan.answer}
        _record(uow, planned, correlation_ids)
        uow.commit()
    return answers, alone


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


def _box_size(subject: Motion | Election) -> int:
    """One sealed length for the whole ballot: that of the longest ballot it can hold (every
    candidate of the election ranked, withdrawn ones too, or the longest choice)."""
    if isinstance(subject, Election):
        longest = {"choice": None, "ranking": [c.id for c in subject.candidates]}
    else:
        longest = {"choice": max(CHOICES, key=len), "ranking": None}
    return sealing.padded_size({"receipt": "0" * 32, **longest})


@dataclass(frozen=True)
class Closing:
    ballot: dict[str, Any]  # the closed ballot as the API shows it
    # Credentials issued to members an election brought into a body, to deliver after the commit
    # (id, name, email, credential, body_name); shown to nobody.
    issued: list[dict[str, Any]] = field(default_factory=list)
    closed_here: bool = False  # this call closed it (not another replica, not an earlier call)


def close_ballot(store: Any, actor: Actor, ballot_id: str) -> Closing:
    """Close, count and publish, exactly once however many replicas are asked at the same time."""
    require_role(actor, "admin")
    issued: list[dict[str, Any]] = []
    with store.unit_of_work() as uow:
        session = uow.session
        ballot = repository.ballot(session, ballot_id)
        if not ballot.close() or not repository.save_closed(session, ballot):
            log.info("ballot %s was already closed: answered with its result", ballot_id)
            return Closing(get_ballot(store, ballot_id))  # someone else closed it: the same answer, no new events
        # Read after the row is ours: votes still in flight (FOR SHARE) have committed, and count.
        box = _opened_box(session, ballot_id)
        subject = repository.subject(session, ballot)
        declaration = ballot.declare(subject, box, _participants(session, ballot))
        record = sign_record(declaration.record, record_signing_key())  # anyone can verify it with GET /api/v1/keys
        member_of: dict[str, str] = {}
        filled: list[tuple[str, dict[str, Any]]] = []
        if declaration.fills_body_id and isinstance(subject, Election):  # declared: a failed one fills nothing
            member_of, issued, filled = fill_body(uow, subject, declaration.elected)
        for event_type, data in declaration.events:
            if event_type == "election.result_declared":  # members made for the elected have ids now
                for elected in data["elected"]:
                    elected["member_id"] = member_of.get(elected["candidate_id"], elected["member_id"])
            uow.emit(event_type, data)
        for event_type, data in filled:
            uow.emit(event_type, data)
        unlink(session, ballot_id, box)
        session.execute(
            ballots.update().where(ballots.c.id == ballot_id).values(result=record["result"], record=record)
        )
        uow.commit()
    log.info("closed ballot %s", ballot_id)
    return Closing(get_ballot(store, ballot_id), issued, closed_here=True)


def _participants(session: Any, ballot: Ballot) -> list[dict[str, Any]]:
    """Who voted; on a named ballot also how."""
    voted = session.execute(
        sa.select(
            participation.c.member_id,
            participation.c.choice,
            participation.c.ranking,
            members.c.name,
            members.c.section,
        )
        .join(members, members.c.id == participation.c.member_id)
        .where(participation.c.ballot_id == ballot.id)
    ).all()
    named = ballot.secrecy == "named"
    return [
        {
            "member_id": v.member_id,
            "name": v.name,
            "section": v.section,
            **({"choice": v.choice} if named and v.choice else {}),
            **({"ranking": v.ranking} if named and v.ranking else {}),
        }
        for v in voted
    ]


def _opened_box(session: Any, ballot_id: str) -> list[dict[str, Any]]:
    """The ballot box in clear, in receipt order: every sealed ballot opened (a ballot open across
    the upgrade that brought sealing has rows in clear already)."""
    box = []
    columns = (ballot_box.c.receipt, ballot_box.c.sealed, ballot_box.c.choice, ballot_box.c.ranking)
    for row in session.execute(sa.select(*columns).where(ballot_box.c.ballot_id == ballot_id)):
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
    if session.get_bind().dialect.name == "postgresql":
        _unlink_in_postgres(session, ballot_id, box)
        return
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


# The same rewrite in two statements that PostgreSQL works through itself (a close of 10,000 votes
# spent most of its time turning rows into parameters and back): the box from three arrays, in
# receipt order; participation moved by one statement, in member order, request ids and sealed
# receipts left behind.
_REFILL_BOX = sa.text(
    "INSERT INTO ballot_box (ballot_id, receipt, choice, ranking) "
    "SELECT :ballot_id, r, c, k::json "
    "FROM unnest(CAST(:receipts AS text[]), CAST(:choices AS text[]), CAST(:rankings AS text[])) AS t(r, c, k) "
    "ORDER BY r"
)
_MOVE_PARTICIPATION = sa.text(
    "WITH moved AS (DELETE FROM participation WHERE ballot_id = :ballot_id "
    "RETURNING ballot_id, member_id, choice, ranking) "
    "INSERT INTO participation (ballot_id, member_id, request_id, choice, ranking, sealed_receipt) "
    "SELECT ballot_id, member_id, NULL, choice, ranking, NULL FROM moved ORDER BY member_id"
)


def _unlink_in_postgres(session: Any, ballot_id: str, box: list[dict[str, Any]]) -> None:
    session.execute(ballot_box.delete().where(ballot_box.c.ballot_id == ballot_id))
    if box:
        ordered = sorted(box, key=lambda b: b["receipt"])
        session.execute(
            _REFILL_BOX,
            {
                "ballot_id": ballot_id,
                "receipts": [b["receipt"] for b in ordered],
                "choices": [b["choice"] for b in ordered],
                "rankings": [None if b["ranking"] is None else json.dumps(b["ranking"]) for b in ordered],
            },
        )
    session.execute(_MOVE_PARTICIPATION, {"ballot_id": ballot_id})


def vacuum(engine: sa.Engine) -> None:
    """Drop the dead row versions the rewrite left, which still held the voting order. Run after
    the close has answered: nothing a client sees waits for it."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ballot_box, participation"))
    except Exception:  # a concurrent vacuum or a missing privilege must not fail the close
        log.warning("vacuum after a ballot close failed", exc_info=True)
