"""voting: receipts are random; participation keeps them sealed until the close

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participation") as batch:
        batch.add_column(sa.Column("sealed_receipt", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participation") as batch:
        batch.drop_column("sealed_receipt")
