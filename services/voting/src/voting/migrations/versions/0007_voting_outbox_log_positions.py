"""voting: outbox log positions assigned by the relay, and its counters (no lock between writers)

Every event already in the outbox keeps its position as its log position.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from congress.messaging.tables import add_log_positions, drop_log_positions

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_log_positions(op)


def downgrade() -> None:
    drop_log_positions(op)
