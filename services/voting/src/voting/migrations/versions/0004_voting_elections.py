"""voting: elections and their candidates

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=False),
        sa.Column("fills_body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("seats", sa.Integer, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("secrecy", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "candidates",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("election_id", sa.String(36), sa.ForeignKey("elections.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), nullable=True),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
    )
    op.create_index("ix_candidates_election_id", "candidates", ["election_id"])
    with op.batch_alter_table("participation") as batch:
        batch.add_column(sa.Column("ranking", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participation") as batch:
        batch.drop_column("ranking")
    op.drop_table("candidates")
    op.drop_table("elections")
