"""Tables every service's database holds for reliable messaging.

`outbox` is the producer's event log: events are written in the same transaction as the state
change that causes them, and the relay publishes them in `position` order. It is also what a
late subscriber replays from. `processed_events` is the inbox: one row per event a consumer
has applied, written in the same transaction as the effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.TypeDecorator):
    """A timestamp that comes back timezone-aware (UTC) from SQLite too, as it does from PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("position", Position, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("envelope", sa.JSON, nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=True),
    )
    sa.Index(
        "ix_outbox_unpublished",
        outbox.c.position,
        postgresql_where=outbox.c.published_at.is_(None),
        sqlite_where=outbox.c.published_at.is_(None),
    )
    processed = sa.Table(
        "processed_events",
        metadata,
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
    )
    return outbox, processed


def create_messaging_tables(op: Any) -> None:
    """Alembic: create the messaging tables in a service's first migration.

    Built from `messaging_tables` so there is one definition; a test compares every service's
    migrated schema with its metadata, so a change here without a migration fails.
    """
    outbox, processed = messaging_tables(sa.MetaData())
    for table in (outbox, processed):
        op.create_table(table.name, *(column._copy() for column in table.columns))
    for index in outbox.indexes:
        op.create_index(
            index.name,
            outbox.name,
            [column.name for column in index.columns],
            **index.dialect_kwargs,
        )
