"""The voting service's tables."""

from __future__ import annotations

import sqlalchemy as sa

from congress.messaging.tables import UtcDateTime, messaging_tables

metadata = sa.MetaData()
messaging_tables(metadata)

# What voting knows of the registry, learnt from the sections service's events.
known_sections = sa.Table(
    "known_sections",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(100), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# The delegate allocations and nominations voting convenes congresses from (sections' events).
allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("apportionment_id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("calculated_at", UtcDateTime(), nullable=False),
)

nominated_delegates = sa.Table(
    "nominated_delegates",
    metadata,
    sa.Column("nomination_id", sa.String(36), primary_key=True),
    sa.Column("apportionment_id", sa.String(36), nullable=False, index=True),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
)

congresses = sa.Table(
    "congresses",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("opens_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("body_id", sa.String(36), nullable=True),
    sa.Column("apportionment_id", sa.String(36), nullable=True),
)

bodies = sa.Table(
    "bodies",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("quorum", sa.Integer, nullable=True),  # None: more than half the voting members
)

# People who may hold a credential: delegates, IEC and IS members. Only the credential's hash is kept.
members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("section", sa.String(32), nullable=True),
    sa.Column("nomination_id", sa.String(36), nullable=True, unique=True),
    sa.Column("credential_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("credential_revoked", sa.Boolean, nullable=False),
)

body_members = sa.Table(
    "body_members",
    metadata,
    sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), primary_key=True),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("deliberative", sa.Boolean, nullable=False),
    sa.Column("accredited", sa.Boolean, nullable=False),
)

motions = sa.Table(
    "motions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("mover", sa.String(200), nullable=False),
    sa.Column("majority_rule", sa.String(16), nullable=False),
    sa.Column("tabled_at", UtcDateTime(), nullable=False),
)

ballots = sa.Table(
    "ballots",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(36), nullable=False, unique=True),
    sa.Column("secrecy", sa.String(8), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("electorate", sa.Integer, nullable=True),
    sa.Column("quorum", sa.Integer, nullable=True),
    sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("record", sa.JSON(none_as_null=True), nullable=True),
)

# Who may vote in a ballot, fixed when it opens.
ballot_electorate = sa.Table(
    "ballot_electorate",
    metadata,
    sa.Column("ballot_id", sa.String(36), sa.ForeignKey("ballots.id"), primary_key=True),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), primary_key=True),
)

# Who voted. For a named ballot also how; for a secret one nothing that leads to the ballot box.
participation = sa.Table(
    "participation",
    metadata,
    sa.Column("ballot_id", sa.String(36), sa.ForeignKey("ballots.id"), primary_key=True),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), primary_key=True),
    sa.Column("request_id", sa.String(100), nullable=True),  # cleared at the close
    sa.Column("choice", sa.String(16), nullable=True),  # named ballots only
    sa.Column("ranking", sa.JSON(none_as_null=True), nullable=True),  # named election ballots only
    # While open, the voter's receipt and the box row's slot, AES-GCM under the ballot key
    # (voting.domain.sealing), so a retry gets the same receipt back; erased at the close.
    sa.Column("sealed_receipt", sa.LargeBinary, nullable=True),
)

# What was voted: no member, no time, no request id. While the ballot is open a row is a random
# slot and `sealed` (receipt and choice or ranking, AES-GCM, one length for the ballot); the close
# opens them and rewrites the box in clear under the receipts, in receipt order.
ballot_box = sa.Table(
    "ballot_box",
    metadata,
    sa.Column("ballot_id", sa.String(36), sa.ForeignKey("ballots.id"), primary_key=True),
    sa.Column("receipt", sa.String(64), primary_key=True),  # while open: the random slot
    sa.Column("choice", sa.String(16), nullable=True),
    sa.Column("ranking", sa.JSON(none_as_null=True), nullable=True),  # elections
    sa.Column("sealed", sa.LargeBinary, nullable=True),  # while open only
)

elections = sa.Table(
    "elections",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=False),
    sa.Column("fills_body_id", sa.String(36), sa.ForeignKey("bodies.id"), nullable=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("secrecy", sa.String(8), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

candidates = sa.Table(
    "candidates",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("election_id", sa.String(36), sa.ForeignKey("elections.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), nullable=True),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
)
