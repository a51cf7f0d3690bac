"""The sections service's tables, and the mapping of its domain classes onto them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from congress.messaging.tables import UtcDateTime, messaging_tables
from sections.domain.nominations import Nomination
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
    sa.Column("registered_at", UtcDateTime(), nullable=False),
)

status_changes = sa.Table(
    "section_status_changes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=False, index=True),
    sa.Column("previous_status", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    sa.Column("changed_by", sa.String(100), nullable=False),
)

membership_returns = sa.Table(
    "membership_returns",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=False, index=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("members", sa.Integer, nullable=False),
    sa.Column("supporters", sa.Integer, nullable=False),
    sa.Column("filed_at", UtcDateTime(), nullable=False),
    sa.Column("filed_by", sa.String(100), nullable=False),
)

apportionments = sa.Table(
    "apportionments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("minimum", sa.Integer, nullable=False),
    sa.Column("cutoff", sa.Date, nullable=False),
    sa.Column("seed", sa.String(64), nullable=False),
    sa.Column("calculated_at", UtcDateTime(), nullable=False),
    sa.Column("calculated_by", sa.String(100), nullable=False),
    # The full result as published (allocations with priorities, ties, sections without a return).
    sa.Column("result", sa.JSON, nullable=False),
)

nominations = sa.Table(
    "nominations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("apportionment_id", sa.String(36), sa.ForeignKey("apportionments.id"), nullable=False),
    sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("nominated_at", UtcDateTime(), nullable=False),
    sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    sa.Index("ix_nominations_apportionment_section", "apportionment_id", "code"),
)

officer_tokens = sa.Table(
    "officer_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=True),  # officers' only
    sa.Column("role", sa.String(32), nullable=False, server_default="section_officer"),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

mapper = registry(metadata=metadata)
mapper.map_imperatively(Section, sections)
mapper.map_imperatively(Nomination, nominations)
