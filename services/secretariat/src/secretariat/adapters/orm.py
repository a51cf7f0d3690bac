"""The secretariat service's tables."""

from __future__ import annotations

import sqlalchemy as sa

from congress.messaging.tables import UtcDateTime, messaging_tables

metadata = sa.MetaData()
messaging_tables(metadata)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("recipient", sa.String(64), nullable=False, index=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("read_at", UtcDateTime(), nullable=True),
    # A second guard behind the inbox: one notice per recipient per event, whatever happens.
    sa.UniqueConstraint("recipient", "event_id", name="uq_notifications_recipient_event"),
)
