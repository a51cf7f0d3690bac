"""voting: what an open ballot writes is sealed (AES-GCM) under the ballot key

The ballot box gains `sealed`; participation's `sealed_receipt` becomes binary. The old
`sealed_receipt` values (XOR with a key the gateway derived) are dropped: a voter of a ballot open
across this upgrade who retries gets "already voted" instead of the receipt back. Such a ballot's
box rows are still in clear and close as before. Downgrade only with no ballot open: sealed
ballots do not survive it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ballot_box") as batch:
        batch.add_column(sa.Column("sealed", sa.LargeBinary, nullable=True))
    # Two steps: SQLite's batch mode copies the table, and one column cannot go and come back in one copy.
    with op.batch_alter_table("participation") as batch:
        batch.drop_column("sealed_receipt")
    with op.batch_alter_table("participation") as batch:
        batch.add_column(sa.Column("sealed_receipt", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participation") as batch:
        batch.drop_column("sealed_receipt")
    with op.batch_alter_table("participation") as batch:
        batch.add_column(sa.Column("sealed_receipt", sa.String(32), nullable=True))
    with op.batch_alter_table("ballot_box") as batch:
        batch.drop_column("sealed")
