"""The voting service's tables."""

from __future__ import annotations

import sqlalchemy as sa

from congress.messaging.tables import UtcDateTime, messaging_tables

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
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# The delegate allocations and nominations voting convenes congresses from (sections' events).
allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("apportionment_id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("calculated_at", UtcDateTime(), nullable=False),
)

nominated_delegates = sa.Table(
    "nominated_delegates",
    metadata,
    sa.Column("nomination_id", sa.String(36), primary_key=True),
    sa.Column("apportionment_id", sa.String(36), nullable=False, index=True),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
)
