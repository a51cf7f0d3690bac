"""Every event type the platform publishes, with the schema of its `data` per version.

The event catalogue of spec section 3 grows here, one schema per type and version, as the
features that emit them land.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

SECTION_STATUSES = ("section", "sympathising_group", "suspended", "dissolved")

# RFC 3986 `URI` with an authority (http and https always have one), from its ABNF.
_CHARS = r"A-Za-z0-9\-._~!$&'()*+,;="  # unreserved + sub-delims
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_CHARS}:@]|{_PCT})"
_URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*://"
    rf"(?:(?:[{_CHARS}:]|{_PCT})*@)?"  # userinfo
    rf"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?:[{_CHARS}]|{_PCT})*)"  # host
    r"(?::[0-9]*)?"  # port
    rf"(?:/{_PCHAR}*)*"  # path
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"  # query
    rf"(?:#(?:{_PCHAR}|[/?])*)?"  # fragment
)


def _rfc3986(value: str) -> None:
    match = _URI.fullmatch(value)
    if match is not None and match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            match = None
    if match is None:
        raise ValidationError("Not a valid URI (RFC 3986): percent-encode non-ASCII and reserved characters.")


class HttpUrl(fields.Url):
    """An absolute http(s) URL, single-label hosts allowed, that is also an RFC 3986 URI.

    The one URL field of the API and the events alike (JSON Schema `format: uri`): marshmallow's
    Url alone passes what no URI parser takes (`http://a.org/ü`, `{x}`, `%zz`), so the API would
    accept a value whose event a subscriber's validator rejects. `require_tld=False` because
    webhooks inside a deployment are reached by service name (`http://receiver:8080/hook`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(schemes={"http", "https"}, require_tld=False, **kwargs)
        self.validators.append(_rfc3986)


class EventData(Schema):
    class Meta:
        # Newer minor versions may add optional fields: old readers keep them, never fail on them.
        unknown = INCLUDE
        ordered = True


class SectionRegisteredV1(EventData):
    """A section joined the registry."""

    code = fields.String(required=True, metadata={"description": "the section's id in every URL and event"})
    name = fields.String(required=True)
    country = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(SECTION_STATUSES))
    email = fields.Email(required=True)
    webhook_url = HttpUrl(allow_none=True, load_default=None)
    registered_at = fields.AwareDateTime(required=True, format="iso")


class SectionUpdatedV1(EventData):
    """A section's name or contacts changed; every field is its value after the change."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.Email(required=True)
    webhook_url = HttpUrl(allow_none=True, load_default=None)
    changed = fields.List(fields.String(), required=True, metadata={"description": "the fields that changed"})


class SectionStatusChangedV1(EventData):
    """A section's status changed (e.g. suspended), with the reason given."""

    code = fields.String(required=True)
    previous_status = fields.String(required=True, validate=validate.OneOf(SECTION_STATUSES))
    status = fields.String(required=True, validate=validate.OneOf(SECTION_STATUSES))
    reason = fields.String(required=True)
    changed_at = fields.AwareDateTime(required=True, format="iso")


class MembershipReportedV1(EventData):
    """A section filed a membership return."""

    return_id = fields.String(required=True)
    code = fields.String(required=True)
    as_of = fields.Date(required=True)
    members = fields.Integer(required=True, validate=validate.Range(min=0))
    supporters = fields.Integer(required=True, validate=validate.Range(min=0))


class ApportionmentCalculatedV1(EventData):
    """Congress delegates apportioned among the sections with full rights."""

    apportionment_id = fields.String(required=True)
    method = fields.String(required=True)
    seats = fields.Integer(required=True)
    minimum = fields.Integer(required=True)
    cutoff = fields.Date(required=True)
    allocations = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    ties = fields.List(fields.Dict(), required=True)
    calculated_at = fields.AwareDateTime(required=True, format="iso")


class DelegateNominatedV1(EventData):
    """A section nominated a delegate within its allocation."""

    nomination_id = fields.String(required=True)
    apportionment_id = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "the nominating section"})
    name = fields.String(required=True)
    email = fields.Email(required=True)


class DelegateWithdrawnV1(EventData):
    """A section withdrew a nomination."""

    nomination_id = fields.String(required=True)
    apportionment_id = fields.String(required=True)
    code = fields.String(required=True)


class CongressScheduledV1(EventData):
    """A World Congress was scheduled."""

    congress_id = fields.String(required=True)
    title = fields.String(required=True)
    opens_on = fields.Date(required=True)


class CongressConvenedV1(EventData):
    """A congress was convened: its delegates are those nominated under the apportionment."""

    congress_id = fields.String(required=True)
    title = fields.String(required=True)
    body_id = fields.String(required=True)
    apportionment_id = fields.String(required=True)
    delegates = fields.Integer(required=True, metadata={"description": "nominated delegates to accredit"})


class CongressStatusV1(EventData):
    """A congress went into session, or closed."""

    congress_id = fields.String(required=True)
    status = fields.String(required=True)


class DelegateAccreditedV1(EventData):
    """A delegate was accredited and a credential issued (the credential never travels in events)."""

    member_id = fields.String(required=True)
    body_id = fields.String(required=True)
    name = fields.String(required=True)
    section = fields.String(allow_none=True, load_default=None)
    deliberative = fields.Boolean(required=True)
    email = fields.Email(allow_none=True, load_default=None)


class MotionTabledV1(EventData):
    """A motion was put before a body."""

    motion_id = fields.String(required=True)
    body_id = fields.String(required=True)
    title = fields.String(required=True)
    mover = fields.String(required=True)
    majority_rule = fields.String(required=True)


class BallotOpenedV1(EventData):
    """A ballot opened; its electorate is fixed from this moment."""

    ballot_id = fields.String(required=True)
    body_id = fields.String(required=True)
    kind = fields.String(required=True)
    subject_id = fields.String(required=True)
    secrecy = fields.String(required=True)
    electorate = fields.Integer(required=True)
    quorum = fields.Integer(required=True)


class VoteRecordedV1(EventData):
    """A vote was recorded: turnout only, never who or what."""

    ballot_id = fields.String(required=True)
    votes_cast = fields.Integer(required=True)
    electorate = fields.Integer(required=True)


class BallotClosedV1(EventData):
    """A ballot closed; its record is published with this digest."""

    ballot_id = fields.String(required=True)
    body_id = fields.String(required=True)
    kind = fields.String(required=True)
    votes_cast = fields.Integer(required=True)
    electorate = fields.Integer(required=True)
    digest = fields.String(required=True)


class MotionDecidedV1(EventData):
    """A motion was adopted or rejected (or its ballot missed the quorum)."""

    motion_id = fields.String(required=True)
    ballot_id = fields.String(required=True)
    title = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("adopted", "rejected", "no_quorum")))
    adopted = fields.Boolean(required=True)
    tally = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    majority_rule = fields.String(required=True)
    majority_met = fields.Boolean(required=True)
    quorum = fields.Integer(required=True)
    quorum_met = fields.Boolean(required=True)
    electorate = fields.Integer(required=True)


class ElectedCandidate(EventData):
    candidate_id = fields.String(required=True)
    name = fields.String(required=True)
    member_id = fields.String(allow_none=True, load_default=None)


class ElectionResultDeclaredV1(EventData):
    """An election's result: the elected in order of election and every round of the count."""

    election_id = fields.String(required=True)
    ballot_id = fields.String(required=True)
    body_id = fields.String(required=True, metadata={"description": "the electing body"})
    fills_body_id = fields.String(allow_none=True, load_default=None, metadata={"description": "the body elected"})
    title = fields.String(required=True)
    method = fields.String(required=True, validate=validate.OneOf(("block", "meek", "wigm")))
    seats = fields.Integer(required=True)
    quota = fields.String(required=True)
    elected = fields.List(fields.Nested(ElectedCandidate), required=True)
    rounds = fields.List(fields.Dict(), required=True)
    digest = fields.String(required=True)
    # Optional (absent from producers before the quorum applied to elections): declared or failed.
    outcome = fields.String(
        validate=validate.OneOf(("elected", "failed")),
        metadata={"description": "failed: quorum not met or no valid vote; no one is elected, no body changes"},
    )
    quorum = fields.Integer(metadata={"description": "ballots needed for the election to count"})
    quorum_met = fields.Boolean()
    votes_cast = fields.Integer(metadata={"description": "ballots cast, blank ones included"})
    valid_votes = fields.Integer(metadata={"description": "ballots naming at least one standing candidate"})
    reason = fields.String(allow_none=True, metadata={"description": "why no one is elected, when it failed"})


class BodyMembershipChangedV1(EventData):
    """A body's voting members changed (e.g. the IEC after the Congress elected it)."""

    body_id = fields.String(required=True)
    kind = fields.String(required=True)
    members = fields.List(fields.String(), required=True)
    added = fields.List(fields.String(), required=True)
    removed = fields.List(fields.String(), required=True)
    reason = fields.String(required=True)


CIRCULAR_AUDIENCES = ("all_sections", "iec", "sections")
DELIVERY_CHANNELS = ("email", "webhook")


class CircularIssuedV1(EventData):
    """The International Secretariat issued a circular; it is delivered on every channel."""

    circular_id = fields.String(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True)
    audience = fields.String(required=True, validate=validate.OneOf(CIRCULAR_AUDIENCES))
    sections = fields.List(fields.String(), required=True, metadata={"description": "the sections addressed"})
    recipients = fields.Integer(required=True, metadata={"description": "how many recipients it went to"})
    issued_by = fields.String(required=True)
    issued_at = fields.AwareDateTime(required=True, format="iso")


class NotificationDeliveredV1(EventData):
    """A notification reached its recipient on one channel (never its content)."""

    delivery_id = fields.String(required=True)
    notification_id = fields.Integer(allow_none=True, load_default=None)
    channel = fields.String(required=True, validate=validate.OneOf(DELIVERY_CHANNELS))
    recipient = fields.String(required=True, metadata={"description": "centre, section:<code>, member:<id>, …"})
    event_type = fields.String(required=True, metadata={"description": "what it was about; 'credential' for one"})
    event_id = fields.String(allow_none=True, load_default=None)
    attempts = fields.Integer(required=True)


class NotificationFailedV1(NotificationDeliveredV1):
    """A delivery gave up after its last attempt (an admin may retry it)."""

    error = fields.String(required=True)


class UnknownEventType(LookupError):
    def __init__(self, event_type: str, version: int | None = None) -> None:
        what = event_type if version is None else f"{event_type} v{version}"
        super().__init__(f"no such event in the catalogue: {what}")


# type -> version -> (producer, schema class)
CATALOGUE: dict[str, dict[int, tuple[str, type[EventData]]]] = {
    "section.registered": {1: ("sections", SectionRegisteredV1)},
    "section.updated": {1: ("sections", SectionUpdatedV1)},
    "section.status_changed": {1: ("sections", SectionStatusChangedV1)},
    "membership.reported": {1: ("sections", MembershipReportedV1)},
    "apportionment.calculated": {1: ("sections", ApportionmentCalculatedV1)},
    "delegate.nominated": {1: ("sections", DelegateNominatedV1)},
    "delegate.withdrawn": {1: ("sections", DelegateWithdrawnV1)},
    "congress.scheduled": {1: ("voting", CongressScheduledV1)},
    "congress.convened": {1: ("voting", CongressConvenedV1)},
    "congress.in_session": {1: ("voting", CongressStatusV1)},
    "congress.closed": {1: ("voting", CongressStatusV1)},
    "delegate.accredited": {1: ("voting", DelegateAccreditedV1)},
    "motion.tabled": {1: ("voting", MotionTabledV1)},
    "ballot.opened": {1: ("voting", BallotOpenedV1)},
    "vote.recorded": {1: ("voting", VoteRecordedV1)},
    "ballot.closed": {1: ("voting", BallotClosedV1)},
    "motion.decided": {1: ("voting", MotionDecidedV1)},
    "election.result_declared": {1: ("voting", ElectionResultDeclaredV1)},
    "body.membership_changed": {1: ("voting", BodyMembershipChangedV1)},
    "circular.issued": {1: ("secretariat", CircularIssuedV1)},
    "notification.delivered": {1: ("secretariat", NotificationDeliveredV1)},
    "notification.failed": {1: ("secretariat", NotificationFailedV1)},
}

# What anyone may read, observers and the hall's screen included: results, never addresses,
# webhooks or circulars (those are addressed to sections or to the IEC).
PUBLIC_EVENT_TYPES: tuple[str, ...] = (
    "congress.scheduled",
    "congress.convened",
    "congress.in_session",
    "congress.closed",
    "motion.tabled",
    "ballot.opened",
    "vote.recorded",
    "ballot.closed",
    "motion.decided",
    "election.result_declared",
    "apportionment.calculated",
)


def data_schema(event_type: str, version: int) -> EventData:
    """The schema of an event type's data, one instance per type and version (marshmallow schemas
    keep no state between loads: making one per event was a measurable cost per vote)."""
    try:
        return _schema(event_type, version)
    except KeyError:
        raise UnknownEventType(event_type, version) from None


@functools.cache
def _schema(event_type: str, version: int) -> EventData:
    return CATALOGUE[event_type][version][1]()


def producer_of(event_type: str) -> str:
    versions = CATALOGUE.get(event_type)
    if not versions:
        raise UnknownEventType(event_type)
    return next(iter(versions.values()))[0]
