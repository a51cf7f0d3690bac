"""Log positions and stamps given by the relay (issue 12), on both kinds of store.

Writers of events take no lock, so outbox rows commit in any order; the relay numbers them when
it publishes. What must hold: a reader of the log "after N" never misses a late commit, a stamp
is the exact count of its counter in log order, a number once given is never given again, the
events already there keep their positions across the migration, and an event the broker did
not confirm stays unsent.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import sessionmaker

from congress.messaging.migrations import alembic_config, upgrade
from congress.messaging.relay import EventPublisher, NotConfirmed, OutboxRelay
from congress.messaging.store import _TABLES, EVENT_COUNTERS, OUTBOX, UnitOfWork, make_engine, read_outbox
from congress.messaging.tables import UtcDateTime
from tests.support.infra import EventTap
from tests.unit.test_contract import SECTION


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    _TABLES.create_all(engine)
    yield engine
    engine.dispose()


class Recorder:
    """A publisher that keeps what it was given; `fail_at` (0-based, over its life) fails there."""

    producer = "voting"

    def __init__(self, fail_at: int | None = None) -> None:
        self.published: list[dict[str, Any]] = []
        self.fail_at = fail_at

    def publish_batch(self, envelopes: Sequence[dict[str, Any]]) -> None:
        for confirmed, envelope in enumerate(envelopes):
            if self.fail_at is not None and len(self.published) >= self.fail_at:
                raise NotConfirmed(confirmed, "the broker went away")
            self.published.append(envelope)

    def close(self) -> None:
        pass


class OneRun(OutboxRelay):
    """A relay whose process ends after each run: it gives up the lead (a live relay keeps it)."""

    def relay_pending(self) -> int:
        try:
            return super().relay_pending()
        finally:
            self.close_leadership()


def relay(engine: sa.Engine, publisher: Any = None, batch: int = 200) -> OutboxRelay:
    return OneRun(engine, publisher or Recorder(), batch=batch)


def sessions(engine: sa.Engine) -> sessionmaker:
    return sessionmaker(engine)


def emit_section(engine: sa.Engine, code: str) -> str:
    with UnitOfWork(sessions(engine), producer="sections") as uow:
        event = uow.emit("section.registered", {**SECTION, "code": code})
        uow.commit()
    return event.event_id


def emit_vote(engine: sa.Engine, ballot: str) -> str:
    with UnitOfWork(sessions(engine), producer="voting") as uow:
        event = uow.emit(
            "vote.recorded",
            {"ballot_id": ballot, "votes_cast": 0, "electorate": 100},
            stamp=(f"turnout:{ballot}", "votes_cast"),
        )
        uow.commit()
    return event.event_id


def log(engine: sa.Engine, after: int = 0) -> list[dict[str, Any]]:
    return read_outbox(engine, after=after, limit=1000)


def rows(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {row.event_id: row for row in conn.execute(sa.select(OUTBOX))}


def test_a_late_commit_is_numbered_after_what_a_reader_has_seen(engine: sa.Engine) -> None:
    """An event inserted first (a lower position) but committed after a later one was relayed and read."""
    publisher = Recorder()
    if engine.dialect.name == "postgresql":
        late = UnitOfWork(sessions(engine), producer="sections").__enter__()
        late_id = late.emit("section.registered", {**SECTION, "code": "late"}).event_id
        early_id = emit_section(engine, "early")  # commits while "late" is open: no lock between them
    else:  # one writer at a time: the row PostgreSQL's writers would leave, made by hand
        early_id = emit_section(engine, "early")
    assert relay(engine, publisher).relay_pending() == 1

    page = log(engine)
    assert [(e["position"], e["event"]["event_id"]) for e in page] == [(1, early_id)]
    cursor = page[-1]["position"]

    if engine.dialect.name == "postgresql":
        late.commit()
        late.__exit__(None, None, None)
    else:
        late_id = "0" * 36
        early = rows(engine)[early_id]
        with engine.begin() as conn:
            conn.execute(
                OUTBOX.insert().values(
                    position=0, event_id=late_id, type=early.type, version=early.version,
                    occurred_at=early.occurred_at, envelope={**early.envelope, "event_id": late_id},
                )
            )  # fmt: skip
    assert rows(engine)[late_id].position < rows(engine)[early_id].position
    assert log(engine, after=cursor) == []  # not in the log until the relay numbers it

    assert relay(engine, publisher).relay_pending() == 1
    assert [(e["position"], e["event"]["event_id"]) for e in log(engine, after=cursor)] == [(2, late_id)]
    assert [e["event_id"] for e in publisher.published] == [early_id, late_id]


def test_stamps_count_each_counter_exactly_in_log_order(engine: sa.Engine) -> None:
    """Writers stamping one counter at once, relayed in small batches and in two runs: the k-th
    event of a counter in the log carries k; another counter counts on its own."""
    ballots = ["b-one"] * 7 + ["b-two"] * 4
    errors: list[BaseException] = []
    publisher = Recorder()

    def wave(group: list[str]) -> None:
        start = threading.Barrier(len(group))

        def voter(ballot: str) -> None:
            try:
                start.wait(timeout=10)
                emit_vote(engine, ballot)
            except BaseException as exc:  # reported in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=voter, args=(ballot,)) for ballot in group]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert relay(engine, publisher, batch=3).relay_pending() == len(group)

    wave(ballots[::2])  # b-one ×4, b-two ×2
    wave(ballots[1::2])  # b-one ×3, b-two ×2: the counters go on from where they were

    page = log(engine)
    assert [e["position"] for e in page] == list(range(1, len(ballots) + 1))
    for ballot in ("b-one", "b-two"):
        counted = [e["event"]["data"]["votes_cast"] for e in page if e["event"]["data"]["ballot_id"] == ballot]
        assert counted == list(range(1, ballots.count(ballot) + 1))
    assert publisher.published == [e["event"] for e in page]  # published as stamped, in log order
    with engine.connect() as conn:
        assert dict(conn.execute(sa.select(EVENT_COUNTERS.c.name, EVENT_COUNTERS.c.value)).all()) == {
            "turnout:b-one": 7,
            "turnout:b-two": 4,
        }


def test_a_crash_after_numbering_republishes_with_the_same_positions_and_stamps(engine: sa.Engine) -> None:
    first, second, third = (emit_vote(engine, "b") for _ in range(3))

    # The broker confirms the first event, then goes away: the rest stay numbered and unsent.
    with pytest.raises(NotConfirmed):
        relay(engine, Recorder(fail_at=1)).relay_pending()
    before = rows(engine)
    assert before[first].published_at is not None
    assert before[second].published_at is None and before[third].published_at is None
    numbered = {event_id: (row.log_position, row.envelope) for event_id, row in before.items()}
    assert [numbered[e][1]["data"]["votes_cast"] for e in (first, second, third)] == [1, 2, 3]

    # Numbered, committed, then the relay dies before it publishes anything.
    fourth = emit_vote(engine, "b")
    with engine.connect() as conn:
        assert relay(engine).number_pending(conn) == 1
        conn.commit()
    numbered[fourth] = (rows(engine)[fourth].log_position, rows(engine)[fourth].envelope)

    fifth = emit_vote(engine, "b")
    publisher = Recorder()
    assert relay(engine, publisher).relay_pending() == 4
    after = rows(engine)
    for event_id, (position, envelope) in numbered.items():
        assert (after[event_id].log_position, after[event_id].envelope) == (position, envelope)
    assert [e["event_id"] for e in publisher.published] == [second, third, fourth, fifth]
    assert [e["data"]["votes_cast"] for e in publisher.published] == [2, 3, 4, 5]
    assert after[fifth].log_position == 5


def test_a_second_numberer_changes_nothing(engine: sa.Engine) -> None:
    """Two relays numbering at once (PostgreSQL's lock prevents it; SQLite has one relay): the one
    that writes second finds the rows numbered, and undoes its own numbers and counts."""
    emit_vote(engine, "b")
    emit_section(engine, "s")
    slow, fast = relay(engine), relay(engine)
    save = slow._save_counters

    def overtaken(conn: sa.Connection, values: dict) -> None:  # after its reads, before its writes
        with engine.connect() as other:
            assert fast.number_pending(other) == 2
            other.commit()
        save(conn, values)

    slow._save_counters = overtaken  # type: ignore[method-assign]
    with engine.connect() as conn, pytest.raises(RuntimeError, match="another relay"):
        slow.number_pending(conn)
    given = {e["event"]["event_id"]: (e["position"], e["event"]) for e in log(engine)}
    assert sorted(position for position, _ in given.values()) == [1, 2]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(EVENT_COUNTERS.c.value)) == 1
    assert [e["data"].get("votes_cast") for _, e in sorted(given.values(), key=lambda g: g[0])] == [1, None]


SERVICES = {"sections": "0003", "voting": "0006", "secretariat": "0002"}


@pytest.mark.parametrize("service", SERVICES)
def test_the_migration_keeps_the_positions_of_the_events_already_there(service: str, database_url: str) -> None:
    migrations = Path(importlib.import_module(service).__file__).parent / "migrations"
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            command.upgrade(alembic_config(migrations, conn), SERVICES[service])  # before log positions
            conn.commit()
        old = sa.table(
            "outbox", *(sa.column(name) for name in ("position", "event_id", "type", "version")),
            sa.column("occurred_at", UtcDateTime()), sa.column("envelope", sa.JSON),
            sa.column("published_at", UtcDateTime()),
        )  # fmt: skip
        now = datetime.now(UTC)
        with engine.begin() as conn:
            for position, published in ((3, True), (7, True), (9, False)):
                event_id = f"{position:036d}"
                conn.execute(
                    old.insert().values(
                        position=position, event_id=event_id, type="section.registered", version=1,
                        occurred_at=now, envelope={"event_id": event_id, "type": "section.registered"},
                        published_at=now if published else None,
                    )
                )  # fmt: skip
        upgrade(migrations, database_url, service)

        assert [(e["position"], e["event"]["event_id"]) for e in log(engine)] == [
            (3, f"{3:036d}"),
            (7, f"{7:036d}"),
            (9, f"{9:036d}"),
        ]
        fresh = emit_section(engine, "new")
        publisher = Recorder()
        assert relay(engine, publisher).relay_pending() == 2  # the one unsent before, and the new one
        assert [e["event_id"] for e in publisher.published] == [f"{9:036d}", fresh]
        assert log(engine, after=9)[0]["position"] == 10

        with engine.connect() as conn:  # and back
            command.downgrade(alembic_config(migrations, conn), SERVICES[service])
            conn.commit()
            assert "log_position" not in {c["name"] for c in sa.inspect(conn).get_columns("outbox")}
    finally:
        engine.dispose()


class ScriptedBroker:
    """A publisher's connection and producer, the broker's answers scripted: (ack|nack, tag, multiple)."""

    def __init__(self, publisher: EventPublisher, answers: list[tuple[str, int, bool]]) -> None:
        self.publisher = publisher
        self.answers = answers
        self.sent: list[str] = []

    @property
    def connection(self) -> Any:
        return self

    @property
    def transport(self) -> Any:
        return self

    def having_timeout(self, timeout: float) -> Any:
        return contextlib.nullcontext()

    def prepare_message(self, body: bytes, *_: Any) -> dict[str, Any]:
        return json.loads(body)

    def send_method(self, method: Any, signature: str, args: tuple, envelope: dict[str, Any]) -> None:
        self.sent.append(envelope["event_id"])

    def drain_events(self, timeout: float) -> None:
        if not self.answers:
            time.sleep(timeout)
            raise TimeoutError("timed out")
        kind, tag, multiple = self.answers.pop(0)
        (self.publisher._on_ack if kind == "ack" else self.publisher._on_nack)(tag, multiple)

    def release(self) -> None:
        pass


@pytest.mark.parametrize(
    ("answers", "confirmed"),
    [
        ([("ack", 2, True), ("ack", 4, False), ("ack", 3, False)], 4),  # out of order, some together
        ([("ack", 1, False), ("ack", 2, False), ("nack", 3, False), ("ack", 4, False)], 2),
        ([("ack", 1, False), ("ack", 3, False)], 1),  # 2 and 4 never confirmed: the timeout
        ([("nack", 4, True)], 0),
    ],
)
def test_a_batch_is_safe_only_up_to_its_first_unconfirmed_event(answers: list, confirmed: int) -> None:
    publisher = EventPublisher("amqp://unused/", "voting", timeout=0.3)
    broker = ScriptedBroker(publisher, answers)
    publisher._connect = lambda: (broker, broker)  # type: ignore[method-assign]
    envelopes = [{"event_id": f"e{i}", "type": "vote.recorded"} for i in range(1, 5)]
    if confirmed == len(envelopes):
        publisher.publish_batch(envelopes)
    else:
        with pytest.raises(NotConfirmed) as failed:
            publisher.publish_batch(envelopes)
        assert failed.value.confirmed == confirmed
    assert broker.sent == ["e1", "e2", "e3", "e4"]


class CutMidBatch(EventPublisher):
    """The broker confirms what it has had so far, then the connection dies before `cut_at`."""

    def __init__(self, *args: Any, cut_at: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cut_at = cut_at
        self.sends = 0

    def _send(self, producer: Any, envelope: dict[str, Any]) -> None:
        self.sends += 1
        if self.sends == self.cut_at:
            connection = self._connection
            assert connection is not None
            deadline = time.monotonic() + 10
            while len(self._unconfirmed) > 1 and time.monotonic() < deadline:  # all but this one
                connection.drain_events(timeout=1)
            connection.connection.transport.sock.shutdown(socket.SHUT_RDWR)
        super()._send(producer, envelope)


def test_a_broker_lost_mid_batch_leaves_the_unconfirmed_events_unsent(engine: sa.Engine, amqp_uri: str) -> None:
    codes = [f"c{i}" for i in range(6)]
    ids = [emit_section(engine, code) for code in codes]
    tap = EventTap(amqp_uri, "sections.events", "section.registered")
    try:
        cut = CutMidBatch(amqp_uri, "sections", timeout=5, cut_at=4)
        with pytest.raises(NotConfirmed) as failed:
            OneRun(engine, cut).relay_pending()
        assert failed.value.confirmed == 3
        sent = rows(engine)
        assert [sent[i].published_at is not None for i in ids] == [True] * 3 + [False] * 3

        again = OneRun(engine, EventPublisher(amqp_uri, "sections"))
        assert again.relay_pending() == 3
        again.publisher.close()
        received = [m["event_id"] for m in tap.drain(1.0)]
    finally:
        tap.close()
    first_seen = list(dict.fromkeys(received))
    assert first_seen == ids  # every event, first deliveries in log order
    assert all(row.published_at is not None for row in rows(engine).values())


def test_the_leader_keeps_the_lead_until_its_connection_goes_and_a_standby_takes_over(engine: sa.Engine) -> None:
    """Leadership is kept from one run to the next (the leader polls and takes up every replica's
    events); a standby relays nothing meanwhile, and leads once the leader's session is gone."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one relay; PostgreSQL's advisory lock elects one of several")
    first, second = Recorder(), Recorder()
    leader, standby = OutboxRelay(engine, first), OutboxRelay(engine, second)
    try:
        emit_section(engine, "a")
        assert leader.relay_pending() == 1 and leader.leading
        emit_section(engine, "b")  # committed by "another replica": the leader takes it up
        assert standby.relay_pending() == 0 and not standby.leading
        assert leader.relay_pending() == 1
        with engine.connect() as conn:  # the leader's session dies (a kill -9, a failover)
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
            conn.commit()
        emit_section(engine, "c")
        with pytest.raises(sa.exc.DBAPIError):
            leader.relay_pending()  # its first statement finds the session gone: it steps down
        assert not leader.leading
        assert standby.relay_pending() == 1 and standby.leading
        assert [e["data"]["code"] for e in first.published + second.published] == ["a", "b", "c"]
    finally:
        leader.close_leadership()
        standby.close_leadership()
