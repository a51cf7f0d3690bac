"""sections: outbox log positions assigned by the relay, and its counters (no lock between writers)

Every event already in the outbox keeps its position as its log position.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from congress.messaging.tables import add_log_positions, drop_log_positions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_log_positions(op)


def downgrade() -> None:
    drop_log_positions(op)
