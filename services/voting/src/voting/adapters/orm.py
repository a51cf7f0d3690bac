"""The voting service's tables."""

from __future__ import annotations

import sqlalchemy as sa

from congress.messaging.tables import messaging_tables

metadata = sa.MetaData()
messaging_tables(metadata)

# What voting knows of the registry, learnt from the sections service's events.
known_sections = sa.Table(
    "known_sections",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(100), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
