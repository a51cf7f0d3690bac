"""voting: congresses, bodies, members and credentials, motions, ballots, participation, ballot box

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "congresses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("opens_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body_id", sa.String(36), nullable=True),
        sa.Column("apportionment_id", sa.String(36), nullable=True),
    )
    op.create_table(
        "bodies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quorum", sa.Integer, nullable=True),  # None: more than half the voting members
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("section", sa.String(32), nullable=True),
        sa.Column("nomination_id", sa.String(36), nullable=True, unique=True),
        sa.Column("credential_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("credential_revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "body_members",
        sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), primary_key=True),
        sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("deliberative", sa.Boolean, nullable=False),
        sa.Column("accredited", sa.Boolean, nullable=False),
    )
    op.create_table(
        "motions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("mover", sa.String(200), nullable=False),
        sa.Column("majority_rule", sa.String(16), nullable=False),
        sa.Column("tabled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ballots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False, unique=True),
        sa.Column("secrecy", sa.String(8), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("electorate", sa.Integer, nullable=True),
        sa.Column("quorum", sa.Integer, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("record", sa.JSON, nullable=True),
    )
    op.create_table(
        "ballot_electorate",
        sa.Column("ballot_id", sa.String(36), sa.ForeignKey("ballots.id"), primary_key=True),
        sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), primary_key=True),
    )
    op.create_table(
        "participation",
        sa.Column("ballot_id", sa.String(36), sa.ForeignKey("ballots.id"), primary_key=True),
        sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("request_id", sa.String(100), nullable=True),  # cleared at the close
        sa.Column("choice", sa.String(16), nullable=True),  # named ballots only
    )
    op.create_table(
        "ballot_box",
        sa.Column("ballot_id", sa.String(36), sa.ForeignKey("ballots.id"), primary_key=True),
        sa.Column("receipt", sa.String(64), primary_key=True),
        sa.Column("choice", sa.String(16), nullable=True),
        sa.Column("ranking", sa.JSON, nullable=True),  # elections
    )


def downgrade() -> None:
    for table in (
        "ballot_box",
        "participation",
        "ballot_electorate",
        "ballots",
        "motions",
        "body_members",
        "members",
        "bodies",
        "congresses",
    ):
        op.drop_table(table)
