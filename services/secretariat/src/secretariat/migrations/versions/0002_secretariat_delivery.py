"""secretariat: recipients, webhook subscriptions, deliveries and their attempts, circulars

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
At = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("notifications", sa.Column("html", sa.Text, nullable=True))
    op.create_table(
        "sections",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("updated_at", At, nullable=False),
    )
    op.create_table(
        "nominees",
        sa.Column("nomination_id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
    )
    op.create_index("ix_nominees_code_name", "nominees", ["code", "name"])
    op.create_table(
        "members",
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("section", sa.String(32), nullable=True),
        sa.Column("updated_at", At, nullable=False),
    )
    op.create_table(
        "body_members",
        sa.Column("body_id", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("changed_at", At, nullable=False),
    )
    op.create_index("ix_body_members_kind", "body_members", ["kind"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("event_types", sa.JSON, nullable=True),
        sa.Column("section", sa.String(32), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("created_at", At, nullable=False),
        sa.Column("deleted_at", At, nullable=True),
    )
    op.create_table(
        "notified_events",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("envelope", sa.JSON, nullable=False),
        sa.Column("received_at", At, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("notification_id", Id, sa.ForeignKey("notifications.id"), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("address", sa.String(2000), nullable=False),
        sa.Column("subscription_id", sa.String(36), sa.ForeignKey("webhook_subscriptions.id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("attempt_limit", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", At, nullable=False),
        sa.Column("claim", sa.String(36), nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", At, nullable=False),
        sa.Column("updated_at", At, nullable=False),
        sa.Column("delivered_at", At, nullable=True),
        sa.UniqueConstraint("notification_id", "channel", name="uq_deliveries_notification_channel"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("attempted_at", At, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "credential_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("attempted_at", At, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_credential_deliveries_member", "credential_deliveries", ["member_id"])
    op.create_table(
        "circulars",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("sections", sa.JSON, nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("issued_by", sa.String(100), nullable=False),
        sa.Column("issued_at", At, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "circulars",
        "credential_deliveries",
        "delivery_attempts",
        "deliveries",
        "notified_events",
        "webhook_subscriptions",
        "body_members",
        "members",
        "nominees",
        "sections",
    ):
        op.drop_table(table)
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("html")
