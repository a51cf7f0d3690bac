"""voting: read models of allocations and nominated delegates

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
        "allocations",
        sa.Column("apportionment_id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("seats", sa.Integer, nullable=False),
        sa.Column("calculated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "nominated_delegates",
        sa.Column("nomination_id", sa.String(36), primary_key=True),
        sa.Column("apportionment_id", sa.String(36), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
    )
    op.create_index("ix_nominated_delegates_apportionment_id", "nominated_delegates", ["apportionment_id"])


def downgrade() -> None:
    op.drop_table("nominated_delegates")
    op.drop_table("allocations")
