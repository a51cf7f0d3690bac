"""The sections service's tables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from congress.messaging.tables import messaging_tables
from sections.domain.registry import Section

metadata = sa.MetaData()
messaging_tables(metadata)

sections = sa.Table(
    "sections",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(100), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("webhook_url", sa.String(2000), nullable=True),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
)

mapper = registry(metadata=metadata)
mapper.map_imperatively(Section, sections)
