"""membership returns, status history, apportionments, nominations, officer tokens

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "section_status_changes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=False),
        sa.Column("previous_status", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
    )
    op.create_index("ix_section_status_changes_code", "section_status_changes", ["code"])
    op.create_table(
        "membership_returns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("supporters", sa.Integer, nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.String(100), nullable=False),
    )
    op.create_index("ix_membership_returns_code", "membership_returns", ["code"])
    op.create_table(
        "apportionments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("seats", sa.Integer, nullable=False),
        sa.Column("minimum", sa.Integer, nullable=False),
        sa.Column("cutoff", sa.Date, nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("calculated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calculated_by", sa.String(100), nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
    )
    op.create_table(
        "nominations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("apportionment_id", sa.String(36), sa.ForeignKey("apportionments.id"), nullable=False),
        sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("nominated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_nominations_apportionment_section", "nominations", ["apportionment_id", "code"])
    op.create_table(
        "officer_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(32), sa.ForeignKey("sections.code"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for table in ("officer_tokens", "nominations", "apportionments", "membership_returns", "section_status_changes"):
        op.drop_table(table)
