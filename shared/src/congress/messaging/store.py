"""A service's store: its SQLAlchemy engine and the unit of work that commits a state change
together with the events it causes (the transactional outbox) and the events it has consumed
(the inbox)."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from congress.contract import Envelope, new_envelope
from congress.messaging.tables import messaging_tables

log = logging.getLogger(__name__)

_TABLES = sa.MetaData()
OUTBOX, PROCESSED_EVENTS, EVENT_COUNTERS = messaging_tables(_TABLES)
_OUTBOX_INSERT = OUTBOX.insert()  # built once: every emit binds it, nothing is rebuilt per event


# The drivers installed with the services; any other is refused with one line before it is tried.
DRIVERS = {"postgresql": "psycopg2", "sqlite": "pysqlite"}


class UnsupportedDatabase(ValueError):
    """A database URL this platform cannot use, said in one line."""


# A connection that went away (a failover, a restart, pg_terminate_backend): the work is fine.
TRANSIENT_DB = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError)


def retry_transient(attempts: int = 4, pause: float = 0.1) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run an idempotent use case again, on a fresh connection, when its connection was lost.

    Only for work that is safe to repeat: a vote (its request id answers a repeat with the same
    receipt), a close (exactly once anyway), reads. The caller never sees the lost connection."""

    def wrap(use_case: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(use_case)
        def run(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, attempts + 1):
                try:
                    return use_case(*args, **kwargs)
                except TRANSIENT_DB as exc:
                    if attempt == attempts:
                        raise
                    log.warning("%s: database connection lost (%s); again", use_case.__name__, type(exc).__name__)
                    time.sleep(pause * attempt)  # cooperative under nameko (time is monkey-patched)
            raise AssertionError("unreachable")

        return run

    return wrap


def normalise_url(url: str) -> str:
    """Every form a user would write: `postgres://…` and `postgresql://…` mean psycopg2 (SQLAlchemy
    2.1 would pick psycopg 3, which is not installed); `postgresql+psycopg2://…` and `sqlite:///…`
    as they are. Anything else is refused, naming the driver."""
    try:
        parsed = sa.engine.make_url(url.strip())
    except sa.exc.ArgumentError:
        raise UnsupportedDatabase(f"not a database URL: {url.split('@')[-1]!r}") from None
    backend, _, driver = parsed.drivername.partition("+")
    backend = {"postgres": "postgresql"}.get(backend, backend)
    if backend not in DRIVERS:
        raise UnsupportedDatabase(f"database {backend!r} is not supported: use postgresql:// or sqlite:///")
    wanted = DRIVERS[backend]
    if driver and driver != wanted:
        raise UnsupportedDatabase(f"driver {driver!r} is not installed: use {backend}:// or {backend}+{wanted}://")
    return parsed.set(drivername=f"{backend}+{wanted}").render_as_string(hide_password=False)


def make_engine(url: str) -> sa.Engine:
    """PostgreSQL for real deployments; an SQLite file for a newcomer's first `make run`."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        files: list[Path] = []
        if path and path != ":memory:" and not path.startswith("file:"):
            files = _private_store(Path(path))
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the relay read while a handler writes; FKs are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are zeroed, not left in free pages (the unlinking of secret ballots).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()
            for file in files:  # files made before this rule, or by another tool
                _chmod(file, 0o600)

        return engine
    # Sized for a hall (each worker holds at most one connection); no ping per checkout: that was a
    # round trip per vote. A connection that died is found by its first statement, SQLAlchemy then
    # recycles the whole pool, and the use cases that matter retry (`retry_transient`).
    return sa.create_engine(
        url,
        pool_pre_ping=_setting("DB_POOL_PRE_PING", "0") not in ("", "0", "false", "no"),
        pool_size=int(_setting("DB_POOL_SIZE", "20")),
        max_overflow=int(_setting("DB_POOL_OVERFLOW", "20")),
    )


def _setting(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _private_store(db: Path) -> list[Path]:
    """Only the service's own user reads its store: a new folder is 0700 and the database file is
    made 0600 before SQLite opens it, so its -wal and -shm (which take its mode) are 0600 from the
    start. An existing folder is left as it is (it may be shared, /tmp say). The files to keep 0600."""
    folder = db.parent
    if not folder.exists():
        try:
            folder.mkdir(parents=True, mode=0o700)
            _chmod(folder, 0o700)  # mkdir's mode passes through the umask
        except FileExistsError:
            pass  # another service, starting at the same time, made it (the same way)
    try:
        os.close(os.open(db, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # empty: an empty database
    except FileExistsError:
        pass
    return [db, Path(f"{db}-wal"), Path(f"{db}-shm")]


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.exists() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError as exc:  # not ours to change: say so, but a store that works stays working
        log.warning("cannot make %s mode %o: %s", path, mode, exc.strerror)


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


def database_url(service: str, var_dir: str | None = None) -> str:
    """`<SERVICE>_DATABASE_URL`, else `DATABASE_URL`, else an SQLite file under var/."""
    url = os.environ.get(f"{service.upper()}_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    base = Path(var_dir or os.environ.get("CONGRESS_VAR_DIR") or "var").resolve()
    return f"sqlite:///{base / f'{service}.sqlite'}"


class UnitOfWork:
    """One transaction: the domain's changes, the events they cause, and consumed event ids.

    Nothing is written unless `commit()` is called; leaving the block without it rolls back.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        producer: str,
        correlation_id: str | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self.producer = producer
        self.correlation_id = correlation_id
        self._on_commit = on_commit
        self.session: Session
        self.events: list[Envelope] = []

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.events = []
        return self

    def __exit__(self, *exc: Any) -> None:
        self.session.rollback()
        self.session.close()

    def emit(self, event_type: str, data: dict[str, Any], stamp: tuple[str, str] | None = None) -> Envelope:
        """Record an event in the outbox; it is published only if this unit of work commits.

        Writers of events do not wait for each other: the relay gives each committed event its
        place in the log (`log_position`) when it publishes it. `stamp=(counter, field)` asks the
        relay to set `data[field]` to the next value (1, 2, 3, …) of `counter` at that moment, so
        the k-th stamped event of a counter in the log carries k: exact and monotone without a
        lock here. `data[field]` must hold a placeholder of the right type until then (the
        envelope returned, and `self.events`, keep the placeholder).
        """
        return self.emit_many([(event_type, data, stamp)])[0]

    def emit_many(
        self,
        events: list[tuple[str, dict[str, Any], tuple[str, str] | None]],
        correlation_ids: list[str | None] | None = None,
    ) -> list[Envelope]:
        """`emit` for several events (type, data, stamp) in one statement: a batch of votes, each
        event under its own request's correlation id where `correlation_ids` gives one."""
        rows, envelopes = [], []
        for index, (event_type, data, stamp) in enumerate(events):
            correlation_id = (correlation_ids[index] if correlation_ids else None) or self.correlation_id
            envelope = new_envelope(event_type, data, self.producer, correlation_id)
            spec = None
            if stamp is not None:
                counter, field = stamp
                if not counter or not field:
                    raise ValueError(f"a stamp is (counter, field), both named: {stamp!r}")
                spec = json.dumps([counter, field])
            rows.append(
                {
                    "event_id": envelope.event_id,
                    "type": envelope.type,
                    "version": envelope.version,
                    "correlation_id": envelope.correlation_id,
                    "occurred_at": envelope.occurred_at,
                    "envelope": envelope.to_wire(),
                    "stamp": spec,
                }
            )
            envelopes.append(envelope)
        if rows:
            self.session.execute(_OUTBOX_INSERT, rows)
        self.events.extend(envelopes)
        return envelopes

    def claim(self, event_id: str, consumer: str) -> bool:
        """Mark an event as processed by `consumer`; False if it already was (a redelivery).

        Call it first in the unit of work: on a duplicate the whole transaction is discarded.
        Two replicas racing on one event serialise on the primary key; the loser gets False.
        """
        try:
            self.session.execute(
                PROCESSED_EVENTS.insert().values(consumer=consumer, event_id=event_id, processed_at=datetime.now(UTC))
            )
            self.session.flush()
        except IntegrityError:
            self.session.rollback()
            self.events = []
            return False
        return True

    def commit(self) -> None:
        self.session.commit()
        if self.events and self._on_commit is not None:
            self._on_commit()
        self.events = []


def read_outbox(
    engine: sa.Engine, after: int = 0, limit: int = 100, types: list[str] | None = None
) -> list[dict[str, Any]]:
    """The producer's event log from `after` on: what a late subscriber replays.

    By `log_position`, which the relay hands out in one transaction after another: an event that
    commits late gets a later position than every one a reader could have seen, so reading "after
    N" misses nothing. Events the relay has not numbered yet are not in the log yet.
    """
    query = sa.select(OUTBOX.c.log_position, OUTBOX.c.envelope).where(OUTBOX.c.log_position > after)
    if types:
        query = query.where(OUTBOX.c.type.in_(types))
    query = query.order_by(OUTBOX.c.log_position).limit(limit)
    with engine.connect() as conn:
        return [{"position": row.log_position, "event": row.envelope} for row in conn.execute(query)]
