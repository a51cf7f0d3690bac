"""tokens of every role: officer_tokens gains a role, and its section becomes optional

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
    with op.batch_alter_table("officer_tokens") as table:  # SQLite rebuilds the table
        table.add_column(sa.Column("role", sa.String(32), nullable=False, server_default="section_officer"))
        table.alter_column("code", existing_type=sa.String(32), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM officer_tokens WHERE role <> 'section_officer'")
    with op.batch_alter_table("officer_tokens") as table:
        table.alter_column("code", existing_type=sa.String(32), nullable=False)
        table.drop_column("role")
