"""Tables every service's database holds for reliable messaging.

`outbox` is the producer's event log: events are written in the same transaction as the state
change that causes them. `position` is only the row's insertion id: writers do not wait for each
other, so positions are not in commit order. The relay gives each committed event its place in
the published log, `log_position` (1, 2, 3, … in the order it publishes them), and applies the
event's `stamp` if it has one: the next value of a counter of `event_counters`, written into the
event. The log, by `log_position`, is what the relay publishes in order and what a late subscriber
replays from. `processed_events` is the inbox: one row per event a consumer has applied, written
in the same transaction as the effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# What `add_log_positions` (issue 12) added to the first schema; `create_messaging_tables` leaves it out.
LOG_POSITION_COLUMNS = ("log_position", "stamp")
LOG_POSITION_INDEX = "ux_outbox_log_position"


class UtcDateTime(sa.TypeDecorator):
    """A timestamp that comes back timezone-aware (UTC) from SQLite too, as it does from PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table, sa.Table]:
    """The outbox, the inbox (`processed_events`) and the relay's `event_counters`."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("position", Position, primary_key=True, autoincrement=True),
        sa.Column("log_position", sa.BigInteger, nullable=True),  # set by the relay, never changed
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("envelope", sa.JSON, nullable=False),
        sa.Column("stamp", sa.String(300), nullable=True),  # JSON [counter, field], see UnitOfWork.emit
        sa.Column("published_at", UtcDateTime(), nullable=True),
    )
    sa.Index(
        "ix_outbox_unpublished",
        outbox.c.position,
        postgresql_where=outbox.c.published_at.is_(None),
        sqlite_where=outbox.c.published_at.is_(None),
    )
    sa.Index(LOG_POSITION_INDEX, outbox.c.log_position, unique=True)
    processed = sa.Table(
        "processed_events",
        metadata,
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
    )
    counters = sa.Table(
        "event_counters",
        metadata,
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    return outbox, processed, counters


def _create_indexes(op: Any, table: sa.Table, names: set[str]) -> None:
    for index in table.indexes:
        if index.name in names:
            op.create_index(
                index.name,
                table.name,
                [column.name for column in index.columns],
                unique=index.unique,
                **index.dialect_kwargs,
            )


def create_messaging_tables(op: Any) -> None:
    """Alembic: create the messaging tables in a service's first migration, as they first were.

    Built from `messaging_tables` so there is one definition, less what later migrations add
    (`add_log_positions`); a test compares every service's migrated schema with its metadata, so
    a change here without a migration fails.
    """
    outbox, processed, _ = messaging_tables(sa.MetaData())
    op.create_table(
        outbox.name, *(column._copy() for column in outbox.columns if column.name not in LOG_POSITION_COLUMNS)
    )
    op.create_table(processed.name, *(column._copy() for column in processed.columns))
    _create_indexes(op, outbox, {"ix_outbox_unpublished"})


def add_log_positions(op: Any) -> None:
    """Alembic (issue 12): the relay assigns log positions and stamps; writers take no lock.

    Every event already in the outbox keeps its position as its log position: its writer held the
    old outbox lock, so positions were in commit order, and readers have seen them there (the old
    log was read by `position`, published or not). The relay numbers later events after them.
    """
    outbox, _, counters = messaging_tables(sa.MetaData())
    with op.batch_alter_table(outbox.name) as batch:
        for name in LOG_POSITION_COLUMNS:
            batch.add_column(outbox.c[name]._copy())
    rows = sa.table(outbox.name, sa.column("position"), sa.column("log_position"))
    op.execute(rows.update().values(log_position=rows.c.position))
    _create_indexes(op, outbox, {LOG_POSITION_INDEX})
    op.create_table(counters.name, *(column._copy() for column in counters.columns))


def drop_log_positions(op: Any) -> None:
    """Alembic: undo `add_log_positions` (the old code then needs the old lock's commit order back)."""
    op.drop_table("event_counters")
    op.drop_index(LOG_POSITION_INDEX, table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        for name in reversed(LOG_POSITION_COLUMNS):
            batch.drop_column(name)
