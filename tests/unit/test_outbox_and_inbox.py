"""The unit of work and the relay on both kinds of store, against the real RabbitMQ."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from congress.messaging.relay import EventPublisher, OutboxRelay
from congress.messaging.store import _TABLES, OUTBOX, PROCESSED_EVENTS, UnitOfWork, make_engine
from tests.support.infra import EventTap
from tests.unit.test_contract import SECTION


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    _TABLES.create_all(engine)
    yield engine
    engine.dispose()


def unit_of_work(engine: sa.Engine, woken: list | None = None) -> UnitOfWork:
    return UnitOfWork(
        sessionmaker(engine), producer="sections", on_commit=(lambda: woken.append(1)) if woken is not None else None
    )


def outbox_rows(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.position)).all()


def section(code: str) -> dict:
    return {**SECTION, "code": code, "email": f"{code}@example.org"}


def test_events_are_written_only_when_the_unit_of_work_commits(engine: sa.Engine) -> None:
    woken: list = []
    with unit_of_work(engine, woken) as uow:
        uow.emit("section.registered", section("aa"))
    assert outbox_rows(engine) == []
    assert woken == []

    with unit_of_work(engine, woken) as uow:
        event = uow.emit("section.registered", section("bb"))
        uow.commit()

    rows = outbox_rows(engine)
    assert [r.event_id for r in rows] == [event.event_id]
    assert rows[0].published_at is None
    assert rows[0].envelope["data"]["code"] == "bb"
    assert woken == [1]


def test_a_claimed_event_cannot_be_claimed_again_and_its_second_effect_is_discarded(engine: sa.Engine) -> None:
    with unit_of_work(engine) as uow:
        assert uow.claim("e-1", "voting.on_section_registered")
        uow.emit("section.registered", section("cc"))
        uow.commit()

    with unit_of_work(engine) as uow:
        assert not uow.claim("e-1", "voting.on_section_registered")
        uow.commit()
    with unit_of_work(engine) as uow:
        assert uow.claim("e-1", "secretariat.on_section_registered")  # another consumer's own claim
        uow.commit()

    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(PROCESSED_EVENTS)) == 2
    assert len(outbox_rows(engine)) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_relay_publishes_in_order_with_confirms_and_marks_sent(engine: sa.Engine, amqp_uri: str) -> None:
    codes = ["r1", "r2", "r3"]
    for code in codes:
        with unit_of_work(engine) as uow:
            uow.emit("section.registered", section(code))
            uow.commit()
    tap = EventTap(amqp_uri, "sections.events", "section.registered")
    try:
        relay = OutboxRelay(engine, EventPublisher(amqp_uri, "sections"))
        assert relay.relay_pending() == 3
        assert relay.relay_pending() == 0
        relay.close_leadership()
        relay.publisher.close()
        received = tap.drain(1.0)
    finally:
        tap.close()
    assert [m["data"]["code"] for m in received] == codes
    assert all(row.published_at is not None for row in outbox_rows(engine))


def test_with_the_broker_unreachable_the_relay_keeps_every_event(engine: sa.Engine, amqp_uri: str) -> None:
    with unit_of_work(engine) as uow:
        uow.emit("section.registered", section("down"))
        uow.commit()
    unreachable = f"amqp://guest:guest@127.0.0.1:{closed_port()}/"

    with pytest.raises(Exception):  # noqa: B017  (kombu raises several kinds of connection error)
        OutboxRelay(engine, EventPublisher(unreachable, "sections", timeout=2)).relay_pending()
    assert outbox_rows(engine)[0].published_at is None

    relay = OutboxRelay(engine, EventPublisher(amqp_uri, "sections"))
    assert relay.relay_pending() == 1
    relay.close_leadership()
    relay.publisher.close()


def test_writers_of_events_do_not_wait_for_each_other(engine: sa.Engine) -> None:
    """No lock between writers: a transaction that emitted and is still open does not hold back
    another that emits and commits (the old outbox lock made the second wait for the first)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time anyway")
    import threading

    first = unit_of_work(engine).__enter__()
    first.emit("section.registered", section("first"))  # and stays open
    second_committed = threading.Event()

    def second_writer() -> None:
        with unit_of_work(engine) as uow:
            uow.emit("section.registered", section("second"))
            uow.commit()
        second_committed.set()

    writer = threading.Thread(target=second_writer, daemon=True)
    writer.start()
    try:
        assert second_committed.wait(timeout=10), "the second writer waited for the first"
    finally:
        first.commit()
        first.__exit__(None, None, None)
        writer.join(timeout=30)
    # Insertion order, not commit order: the relay numbers the log (test_outbox_positions).
    assert [row.envelope["data"]["code"] for row in outbox_rows(engine)] == ["first", "second"]
