"""The secretariat service's tables.

Read models of what other services told it (sections' contacts, nominees, members, body
membership), what it must tell (notifications, one per recipient per event), how (deliveries,
one per channel per recipient, and their attempts), and to whom outside (webhook subscriptions).
"""

from __future__ import annotations

import sqlalchemy as sa

from congress.messaging.tables import UtcDateTime, messaging_tables

metadata = sa.MetaData()
messaging_tables(metadata)

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("recipient", sa.String(64), nullable=False, index=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("read_at", UtcDateTime(), nullable=True),
    sa.Column("html", sa.Text, nullable=True),
    # A second guard behind the inbox: one notice per recipient per event, whatever happens.
    sa.UniqueConstraint("recipient", "event_id", name="uq_notifications_recipient_event"),
)

# Read models

sections = sa.Table(
    "sections",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("webhook_url", sa.String(2000), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

nominees = sa.Table(
    "nominees",
    metadata,
    sa.Column("nomination_id", sa.String(64), primary_key=True),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Index("ix_nominees_code_name", "code", "name"),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("member_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("section", sa.String(32), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

body_members = sa.Table(
    "body_members",
    metadata,
    sa.Column("body_id", sa.String(64), primary_key=True),
    sa.Column("member_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    sa.Index("ix_body_members_kind", "kind"),
)

# Outside recipients and what they were sent

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    # Kept to sign with (Standard Webhooks is symmetric); never returned after registration.
    sa.Column("secret", sa.String(100), nullable=False),
    # None for a section's contact webhook, which hears what the section hears.
    sa.Column("event_types", sa.JSON, nullable=True),
    sa.Column("section", sa.String(32), nullable=True),
    sa.Column("origin", sa.String(16), nullable=False),  # api | contacts
    sa.Column("description", sa.String(300), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("deleted_at", UtcDateTime(), nullable=True),
)

# The envelopes webhooks carry, once per event however many subscribers it has.
notified_events = sa.Table(
    "notified_events",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("envelope", sa.JSON, nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("notification_id", Id, sa.ForeignKey("notifications.id"), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # email | webhook
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("address", sa.String(2000), nullable=False),  # the email address or the URL
    sa.Column("subscription_id", sa.String(36), sa.ForeignKey("webhook_subscriptions.id"), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed | cancelled
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("attempt_limit", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    # Set while a worker holds it; the lease (next_attempt_at) expires if that worker dies.
    sa.Column("claim", sa.String(36), nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    # One delivery per channel per recipient per event: a redelivered event cannot add a second.
    sa.UniqueConstraint("notification_id", "channel", name="uq_deliveries_notification_channel"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(36), sa.ForeignKey("deliveries.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", UtcDateTime(), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # delivered | failed
    sa.Column("status_code", sa.Integer, nullable=True),  # the HTTP status, or the SMTP reply code
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index("ix_delivery_attempts_delivery", "delivery_id"),
)

# That a credential email went to a member, when, and how it went: never the credential.
credential_deliveries = sa.Table(
    "credential_deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(64), nullable=False),
    sa.Column("attempted_at", UtcDateTime(), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_credential_deliveries_member", "member_id"),
)

circulars = sa.Table(
    "circulars",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("audience", sa.String(16), nullable=False),
    sa.Column("sections", sa.JSON, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("issued_by", sa.String(100), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
)
