"""Request and response bodies of the HTTP API, which are also the services' RPC payloads.

The owning service validates with these (`load`); the gateway documents them in OpenAPI.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate, validates, validates_schema

from congress.contract import hosts
from congress.contract.catalogue import SECTION_STATUSES, HttpUrl
from congress.errors import InvalidInput

APPORTIONMENT_METHODS = ("huntington-hill", "sainte-lague", "dhondt", "hamilton")

CODE = validate.Regexp(
    r"^[a-z][a-z0-9-]{1,31}$",
    error="2 to 32 lowercase letters, digits or hyphens, starting with a letter",
)
ID = validate.Length(min=1, max=64)  # ids are uuids; a longer one is never found, nor stored


def between(low: int, high: int) -> list[validate.Validator]:
    """low..high as two checks, so a value under `low` keeps the message it always had."""
    return [validate.Range(min=low), validate.Range(max=high)]


# Bounds of every integer a request may carry: a value outside is a 400 naming the field,
# never an overflow in a database column.
PEOPLE = between(0, 10**9)
SEATS = validate.Range(min=1, max=100_000)
QUORUM = between(1, 100_000)
PAGE = validate.Range(min=1, max=1000)
POSITION = between(0, 2**63 - 1)  # a BIGINT


class StrictBoolean(fields.Boolean):
    """true or false only: marshmallow's Boolean also reads "yes", "on", 1 and "1" as true."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class QueryInteger(fields.Integer):
    """An integer in a query string: ASCII digits only. int() also reads "٣", " 3", "+3" and "3_0",
    none of which the OpenAPI document's `integer` allows; an int (an RPC caller's) passes too."""

    _DIGITS = re.compile(r"-?[0-9]{1,30}")  # past 30 digits it is out of every range anyway

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid", input=value)
        if isinstance(value, str) and not self._DIGITS.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class QueryBoolean(fields.Boolean):
    """A boolean in a query string: "true" or "false" (as JSON spells them), or a bool."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid", input=value)


def _unstorable(value: Any) -> str | None:
    """Why no store can keep this string (PostgreSQL refuses NUL; UTF-8 has no lone surrogates)."""
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain the NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate)"
    elif isinstance(value, list):
        return next((why for why in map(_unstorable, value) if why), None)
    elif isinstance(value, dict):
        return next((why for why in map(_unstorable, [*value, *value.values()]) if why), None)
    return None


def _public_host(url: str) -> None:
    try:
        hosts.check_url(url)
    except hosts.HostRefused as exc:
        raise ValidationError(f"this webhook URL may not be used: {exc}") from None


class WebhookUrl(HttpUrl):
    """The events' http(s) URL (so the API never accepts one its event would not carry), whose
    host is not, and does not resolve to, a private or reserved address; no credentials in it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=[validate.Length(max=2000), _public_host], **kwargs)


class Exact(Schema):
    """Exactly its declared fields: a field more is refused, not passed on."""

    class Meta:
        unknown = RAISE


class Request(Exact):
    """What a caller sends: no field it does not know, no string a store cannot keep.

    JSON_SCHEMA: what a validator says that apispec cannot, merged into the OpenAPI document."""

    JSON_SCHEMA: ClassVar[dict[str, Any]] = {}
    PASSED_ON: ClassVar[tuple[str, ...]] = ()  # fields another schema validates, strings and all

    @pre_load
    def _storable(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict):
            refused = {
                str(k): [why]
                for k, value in data.items()
                if (why := _unstorable(k) or (k not in self.PASSED_ON and _unstorable(value)))
            }
            if refused:
                raise ValidationError(refused)
        return data


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    """Validate a payload or raise InvalidInput with one message list per field."""
    if not isinstance(payload, dict):
        raise InvalidInput("the request body must be a JSON object", {"_schema": ["expected an object"]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise InvalidInput("the request has invalid fields", messages) from None


def _not_in_future(value: date) -> None:
    if value > date.today():
        raise ValidationError("cannot be in the future")


# Events


class EventReplayQuery(Request):
    """The query of GET /api/v1/events/{producer}: `?after=N&limit=M&types=a,b` (strings)."""

    after = QueryInteger(load_default=0, validate=POSITION, metadata={"description": "a position in the log"})
    limit = QueryInteger(load_default=100, validate=PAGE)
    types = fields.String(
        load_default="", validate=validate.Length(max=2000), metadata={"description": "event types, a,b,…"}
    )


class StreamQuery(Request):
    """The query of GET /api/v1/stream: `?after=N` (a string); without it, the stream starts now."""

    after = QueryInteger(
        validate=POSITION, metadata={"description": "a position in the voting log: send what came after"}
    )


class EventEntry(Schema):
    class Meta:
        unknown = INCLUDE  # an envelope: newer producers may add fields

    position = fields.Integer(required=True)


class EventPage(Schema):
    events = fields.List(fields.Nested(EventEntry), required=True)
    next_after = fields.Integer(required=True, metadata={"description": "`after` for the next page"})


# Platform


class ServiceStates(Schema):
    class Meta:
        unknown = INCLUDE

    sections = fields.String()
    voting = fields.String()
    secretariat = fields.String()


class HealthView(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("ok", "degraded")))
    version = fields.String(required=True)
    services = fields.Nested(ServiceStates, required=True, metadata={"description": "ok, or why not"})


class PublicKeyView(Schema):
    record_signing_key = fields.String(required=True)
    algorithm = fields.String(required=True, validate=validate.OneOf(("Ed25519",)))


# Sections


class SectionRegistration(Request):
    code = fields.String(required=True, validate=CODE, metadata={"description": "the section's id in every URL"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    country = fields.String(required=True, validate=validate.Length(min=1, max=100))
    status = fields.String(load_default="section", validate=validate.OneOf(SECTION_STATUSES))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    webhook_url = WebhookUrl(load_default=None, allow_none=True)


class SectionContactsUpdate(Request):
    JSON_SCHEMA: ClassVar[dict[str, Any]] = {"minProperties": 1}  # what _something says, for the OpenAPI document

    name = fields.String(validate=validate.Length(min=1, max=200))
    email = fields.Email(validate=validate.Length(max=254))
    webhook_url = WebhookUrl(allow_none=True)

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("give at least one of name, email, webhook_url", "_schema")


class SectionStatusChange(Request):
    status = fields.String(required=True, validate=validate.OneOf(SECTION_STATUSES))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000))


class SectionView(Schema):
    code = fields.String()
    name = fields.String()
    country = fields.String()
    status = fields.String()
    email = fields.String()
    webhook_url = fields.String(allow_none=True)
    registered_at = fields.AwareDateTime(format="iso")


class SectionFilter(Request):
    status = fields.String(validate=validate.OneOf(SECTION_STATUSES))
    country = fields.String(validate=validate.Length(max=100))


class NominationFilter(Request):
    apportionment_id = fields.String(validate=ID, metadata={"description": "default: every apportionment"})


# Membership returns


class MembershipReturnFiling(Request):
    as_of = fields.Date(required=True, validate=_not_in_future, metadata={"description": "the date the count is for"})
    members = fields.Integer(required=True, strict=True, validate=PEOPLE)
    supporters = fields.Integer(load_default=0, strict=True, validate=PEOPLE)


class MembershipReturnView(Schema):
    id = fields.String()
    code = fields.String()
    as_of = fields.Date()
    members = fields.Integer()
    supporters = fields.Integer()
    filed_at = fields.AwareDateTime(format="iso")
    filed_by = fields.String()


# Apportionments


class ApportionmentRequest(Request):
    seats = fields.Integer(required=True, strict=True, validate=SEATS)
    method = fields.String(required=True, validate=validate.OneOf(APPORTIONMENT_METHODS))
    minimum = fields.Integer(load_default=1, strict=True, validate=between(0, 100_000))
    cutoff = fields.Date(load_default=None, metadata={"description": "latest returns on or before this date (today)"})
    seed = fields.String(load_default=None, validate=validate.Length(min=1, max=64))

    @validates("cutoff")
    def _cutoff(self, value: date | None, **_: Any) -> None:
        if value is not None:
            _not_in_future(value)


class AllocationView(Schema):
    section = fields.String()
    members = fields.Integer()
    seats = fields.Integer()
    priority = fields.String(allow_none=True, metadata={"description": "last priority, or quota under hamilton"})
    return_as_of = fields.Date(allow_none=True)


class TieView(Schema):
    sections = fields.List(fields.String())
    seats = fields.Integer()
    winners = fields.List(fields.String())
    at = fields.String()
    resolved_by = fields.String()
    seed = fields.String()


class ApportionmentView(Schema):
    id = fields.String()
    method = fields.String()
    seats = fields.Integer()
    minimum = fields.Integer()
    cutoff = fields.Date()
    seed = fields.String()
    calculated_at = fields.AwareDateTime(format="iso")
    allocations = fields.List(fields.Nested(AllocationView))
    ties = fields.List(fields.Nested(TieView))
    without_return = fields.List(fields.String(), metadata={"description": "full sections with no return by cutoff"})


# Nominations


class NominationRequest(Request):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    apportionment_id = fields.String(load_default=None, validate=ID, metadata={"description": "default: the latest"})


class NominationView(Schema):
    id = fields.String()
    apportionment_id = fields.String()
    code = fields.String()
    name = fields.String()
    email = fields.String()
    status = fields.String()
    nominated_at = fields.AwareDateTime(format="iso")
    withdrawn_at = fields.AwareDateTime(format="iso", allow_none=True)


# Section officer tokens


class OfficerTokenRequest(Request):
    label = fields.String(load_default="", validate=validate.Length(max=200))


class OfficerTokenView(Schema):
    id = fields.String()
    code = fields.String()
    label = fields.String()
    created_at = fields.AwareDateTime(format="iso")
    revoked_at = fields.AwareDateTime(format="iso", allow_none=True)
    token = fields.String(metadata={"description": "shown once, at issue; only its hash is kept"})


TOKEN_ROLES = ("admin", "secretariat", "section_officer", "observer")  # a delegate's is a credential


class TokenRequest(Request):
    # What tokens.check_request says, for the OpenAPI document: an officer's token names its section, no other does.
    JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "properties": {"role": {"enum": ["section_officer"]}, "section": {"type": "string"}},
                "required": ["role", "section"],
            },
            {
                "properties": {
                    "role": {"enum": [r for r in TOKEN_ROLES if r != "section_officer"]},
                    "section": {"nullable": True, "enum": [None]},
                }
            },
        ]
    }

    role = fields.String(required=True, validate=validate.OneOf(TOKEN_ROLES))
    section = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))
    label = fields.String(load_default="", validate=validate.Length(max=200))


class TokenFilter(Request):
    role = fields.String(validate=validate.OneOf(TOKEN_ROLES))
    section = fields.String(validate=validate.Length(min=1, max=32))
    include_revoked = QueryBoolean(load_default=False)


class TokenView(OfficerTokenView):
    role = fields.String()
    code = fields.String(allow_none=True, metadata={"description": "the section, for a section officer's token"})


# Congresses, bodies and accreditation

BODY_KINDS = ("congress", "iec", "is")
MAJORITY_RULES = ("simple", "two_thirds", "absolute")
ELECTION_METHODS = ("block", "meek", "wigm")


class CongressScheduling(Request):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    opens_on = fields.Date(required=True)


class CongressConvening(Request):
    apportionment_id = fields.String(load_default=None, validate=ID, metadata={"description": "default: the latest"})
    quorum = fields.Integer(
        load_default=None,
        strict=True,
        validate=QUORUM,
        metadata={"description": "default: more than half the voting delegates"},
    )


class CongressView(Schema):
    id = fields.String()
    title = fields.String()
    opens_on = fields.Date()
    status = fields.String()
    body_id = fields.String(allow_none=True)
    apportionment_id = fields.String(allow_none=True)


class BodyCreation(Request):
    kind = fields.String(required=True, validate=validate.OneOf(("iec", "is")))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    quorum = fields.Integer(load_default=None, strict=True, validate=QUORUM)


class BodyView(Schema):
    id = fields.String()
    kind = fields.String()
    name = fields.String()
    quorum = fields.Integer(allow_none=True)
    voting_members = fields.Integer()


class MemberView(Schema):
    id = fields.String()
    name = fields.String()
    email = fields.String()
    section = fields.String(allow_none=True)
    deliberative = fields.Boolean()
    accredited = fields.Boolean()
    credential_revoked = fields.Boolean()
    credential = fields.String(metadata={"description": "shown once, when issued or reissued"})
    credential_delivery = fields.String(
        metadata={"description": "with a new credential: 'sent' (emailed by the Secretariat) or 'failed: …'"}
    )


class CredentialView(Schema):
    """A credential reissued (the credential, shown once) or revoked."""

    id = fields.String(required=True)
    name = fields.String()
    email = fields.String()
    credential = fields.String(metadata={"description": "shown once"})
    credential_delivery = fields.String(metadata={"description": "'sent' or 'failed: …'"})
    credential_revoked = fields.Boolean()


class MemberAddition(Request):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    section = fields.String(load_default=None, validate=validate.Length(max=32))
    deliberative = StrictBoolean(load_default=True)
    member_id = fields.String(
        load_default=None, validate=ID, metadata={"description": "an existing member (keeps their credential)"}
    )


class Accreditation(Request):
    deliberative = StrictBoolean(load_default=None, metadata={"description": "default: as nominated"})


# Motions and ballots


class MotionTabling(Request):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    text = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    mover = fields.String(required=True, validate=validate.Length(min=1, max=200))
    majority_rule = fields.String(load_default="simple", validate=validate.OneOf(MAJORITY_RULES))


class MotionView(Schema):
    id = fields.String()
    body_id = fields.String()
    title = fields.String()
    text = fields.String()
    mover = fields.String()
    majority_rule = fields.String()
    tabled_at = fields.AwareDateTime(format="iso")
    ballot_id = fields.String(allow_none=True)


class BallotOpening(Request):
    secrecy = fields.String(load_default="secret", validate=validate.OneOf(("secret", "named")))


class BallotView(Schema):
    id = fields.String()
    body_id = fields.String()
    kind = fields.String()
    subject_id = fields.String()
    secrecy = fields.String()
    status = fields.String()
    electorate = fields.Integer(allow_none=True)
    quorum = fields.Integer(allow_none=True)
    votes_cast = fields.Integer()
    result = fields.Dict(allow_none=True)


class RecordSignature(Schema):
    algorithm = fields.String(required=True)
    public_key = fields.String(required=True)
    value = fields.String(required=True)


class RecordView(Schema):
    """A closed ballot's published record; `congress count ballot` checks and recounts it."""

    class Meta:
        unknown = INCLUDE  # a later record_version may add fields; the digest covers them all

    record_version = fields.Integer(required=True)
    ballot = fields.Dict(required=True)
    ballots = fields.List(fields.Dict(), required=True, metadata={"description": "anonymous, by receipt"})
    participants = fields.List(fields.Dict(), required=True)
    result = fields.Dict(required=True)
    digest = fields.String(required=True, metadata={"description": "SHA-256 of the canonical record"})
    signature = fields.Nested(RecordSignature, metadata={"description": "Ed25519, by GET /api/v1/keys"})


class VoteSubmission(Request):
    choice = fields.String(validate=validate.OneOf(("yes", "no", "abstain")), metadata={"description": "motions"})
    ranking = fields.List(
        fields.String(validate=ID),
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "STV elections: candidate ids, most preferred first"},
    )
    marks = fields.List(
        fields.String(validate=ID),
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "block elections: up to as many candidate ids as seats"},
    )
    request_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "repeat it on a retry to get the same receipt back"},
    )

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **_: Any) -> None:
        given = [k for k in ("choice", "ranking", "marks") if k in data]
        if len(given) != 1:
            raise ValidationError("give exactly one of choice, ranking, marks", "_schema")


class GatheredVote(Request):
    """One delegate's vote as the gateway passes it on in a batch (RPC only, never over HTTP):
    the hash of the credential it came with, the body as sent (voting validates it as a
    VoteSubmission, so each vote gets its own field-level refusal) and the request's correlation id."""

    PASSED_ON = ("vote",)

    credential_hash = fields.String(required=True, validate=validate.Length(min=1, max=128))
    ballot_id = fields.String(required=True, validate=ID)
    vote = fields.Raw(required=True, allow_none=True)
    receipt_key = fields.String(load_default="", validate=validate.Length(max=200))
    correlation_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class GatheredVotes(Exact):
    """A batch of GatheredVote, each validated on its own: one vote's mistake is its own answer,
    never its neighbours' (so the gateway passes votes on unchecked)."""

    votes = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1, max=1000))


class Receipt(Schema):
    ballot_id = fields.String()
    receipt = fields.String(metadata={"description": "find it in the published record after the close"})


# Elections


class ElectionCreation(Request):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    seats = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))
    method = fields.String(
        required=True,
        validate=validate.OneOf(ELECTION_METHODS),
        metadata={"description": "block vote, or STV by Meek's method or WIGM"},
    )
    secrecy = fields.String(load_default="secret", validate=validate.OneOf(("secret", "named")))
    fills_body_id = fields.String(
        load_default=None, validate=ID, metadata={"description": "the body whose members it elects"}
    )


class ElectionView(Schema):
    id = fields.String()
    body_id = fields.String()
    fills_body_id = fields.String(allow_none=True)
    title = fields.String()
    seats = fields.Integer()
    method = fields.String()
    secrecy = fields.String()
    ballot_id = fields.String(allow_none=True)
    candidates = fields.List(fields.Dict())


class CandidateNomination(Request):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    member_id = fields.String(
        load_default=None, validate=ID, metadata={"description": "if the candidate already holds a credential"}
    )


# A delegate's own (GET /api/v1/me/ballots: the voting page's list). Exactly what the gateway
# answers (gateway/pages.py), no field more: never who voted, only what each ballot is about.


class MyMemberView(Exact):
    id = fields.String(required=True)
    name = fields.String(required=True)
    section = fields.String(required=True, allow_none=True)


class MyBodyView(Exact):
    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(BODY_KINDS))
    deliberative = fields.Boolean(required=True, metadata={"description": "false: consultative, does not vote"})
    accredited = fields.Boolean(required=True)


class CandidateChoiceView(Exact):
    id = fields.String(required=True)
    name = fields.String(required=True)


class VoterSubjectView(Exact):
    """What a ballot is about: a motion (text, mover, majority rule) or an election (method, seats,
    its standing candidates by name)."""

    id = fields.String(required=True, metadata={"description": "the motion's or the election's"})
    title = fields.String(required=True)
    text = fields.String(metadata={"description": "motions"})
    mover = fields.String(metadata={"description": "motions"})
    majority_rule = fields.String(validate=validate.OneOf(MAJORITY_RULES), metadata={"description": "motions"})
    method = fields.String(validate=validate.OneOf(ELECTION_METHODS), metadata={"description": "elections"})
    seats = fields.Integer(metadata={"description": "elections"})
    candidates = fields.List(fields.Nested(CandidateChoiceView), metadata={"description": "elections, by name"})


class TallyView(Exact):
    yes = fields.Integer(required=True)
    no = fields.Integer(required=True)
    abstain = fields.Integer(required=True)


class VoterResultView(Exact):
    """A closed ballot's public result: a motion's decision, or whom an election elected."""

    outcome = fields.String(
        validate=validate.OneOf(("adopted", "rejected", "no_quorum")), metadata={"description": "motions"}
    )
    tally = fields.Nested(TallyView, metadata={"description": "motions"})
    cast = fields.Integer(metadata={"description": "motions"})
    electorate = fields.Integer(metadata={"description": "motions"})
    majority_rule = fields.String(validate=validate.OneOf(MAJORITY_RULES), metadata={"description": "motions"})
    majority_met = fields.Boolean(metadata={"description": "motions"})
    quorum = fields.Integer(metadata={"description": "motions"})
    quorum_met = fields.Boolean(metadata={"description": "motions"})
    method = fields.String(validate=validate.OneOf(ELECTION_METHODS), metadata={"description": "elections"})
    seats = fields.Integer(metadata={"description": "elections"})
    quota = fields.String(metadata={"description": "elections: a decimal, as the count states it"})
    elected = fields.List(fields.String(), metadata={"description": "elections: candidate ids, in order of election"})
    elected_names = fields.List(fields.String(), metadata={"description": "elections: their names, in that order"})


class VoterBallotView(Exact):
    """A ballot as the voting page shows it."""

    id = fields.String(required=True)
    body_id = fields.String(required=True)
    body_name = fields.String(required=True)
    may_vote = fields.Boolean(required=True, metadata={"description": "a deliberative, accredited member"})
    kind = fields.String(required=True, validate=validate.OneOf(("motion", "election")))
    secrecy = fields.String(required=True, validate=validate.OneOf(("secret", "named")))
    status = fields.String(required=True, validate=validate.OneOf(("open", "closed")))
    subject = fields.Nested(VoterSubjectView, required=True)
    result = fields.Nested(VoterResultView, required=True, allow_none=True, metadata={"description": "once closed"})


class MyBallotsView(Exact):
    """The ballots of the bodies a delegate belongs to, open ones first."""

    member = fields.Nested(
        MyMemberView, required=True, allow_none=True, metadata={"description": "null: a member of no body"}
    )
    bodies = fields.List(fields.Nested(MyBodyView), required=True)
    ballots = fields.List(fields.Nested(VoterBallotView), required=True, metadata={"description": "open ones first"})


# Secretariat

from congress.contract.catalogue import CIRCULAR_AUDIENCES, DELIVERY_CHANNELS  # noqa: E402  (this section's own)

# What an outside system may subscribe a webhook to: what the Secretariat hears and issues.
WEBHOOK_EVENT_TYPES = (
    "section.registered",
    "section.updated",
    "section.status_changed",
    "congress.convened",
    "motion.decided",
    "election.result_declared",
    "body.membership_changed",
    "circular.issued",
)
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


class WebhookRegistration(Request):
    url = WebhookUrl(required=True)
    event_types = fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_EVENT_TYPES)),
        required=True,
        validate=validate.Length(min=1, max=len(WEBHOOK_EVENT_TYPES) * 2),
    )
    section = fields.String(
        load_default=None, validate=CODE, metadata={"description": "only events to or about this section"}
    )
    description = fields.String(load_default="", validate=validate.Length(max=300))


class WebhookView(Schema):
    id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String(), allow_none=True, metadata={"description": "null: a section's own"})
    section = fields.String(allow_none=True)
    origin = fields.String(metadata={"description": "api (registered) or contacts (a section's webhook_url)"})
    description = fields.String()
    created_at = fields.AwareDateTime(format="iso")
    secret = fields.String(
        metadata={"description": "whsec_…: shown once, when registered or rotated; verifies webhook-signature"}
    )
    deleted = fields.Boolean(metadata={"description": "true once deleted"})


class DeliveryFilter(Request):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    channel = fields.String(validate=validate.OneOf(DELIVERY_CHANNELS))
    event_type = fields.String(validate=validate.Length(max=100))
    recipient = fields.String(validate=validate.Length(max=200))
    limit = QueryInteger(load_default=100, validate=PAGE)  # a query string: "100" is read as 100


class DeliveryAttemptView(Schema):
    attempt = fields.Integer()
    attempted_at = fields.AwareDateTime(format="iso")
    outcome = fields.String()
    status_code = fields.Integer(allow_none=True, metadata={"description": "HTTP status or SMTP reply code"})
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class DeliveryView(Schema):
    id = fields.String()
    notification_id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    channel = fields.String()
    recipient = fields.String()
    address = fields.String()
    subscription_id = fields.String(allow_none=True)
    status = fields.String()
    attempts = fields.Integer()
    attempt_limit = fields.Integer()
    next_attempt_at = fields.AwareDateTime(format="iso")
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(format="iso")
    delivered_at = fields.AwareDateTime(format="iso", allow_none=True)
    log = fields.List(fields.Nested(DeliveryAttemptView), metadata={"description": "one entry per attempt"})


class InboxFilter(Request):
    unread = QueryBoolean(load_default=False)  # a query string: "true" / "false"
    limit = QueryInteger(load_default=100, validate=PAGE)


class InboxNotificationView(Schema):
    id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    subject = fields.String()
    body = fields.String()
    created_at = fields.AwareDateTime(format="iso")
    read = fields.Boolean()
    read_at = fields.AwareDateTime(format="iso", allow_none=True)


class CentreNotificationView(Schema):
    id = fields.Integer()
    recipient = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    subject = fields.String()
    body = fields.String()
    created_at = fields.AwareDateTime(format="iso")
    read = fields.Boolean()


class CircularIssue(Request):
    # What _sections_with_their_audience says, for the OpenAPI document.
    JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "properties": {"audience": {"enum": ["sections"]}, "sections": {"minItems": 1}},
                "required": ["audience", "sections"],
            },
            {
                "properties": {
                    "audience": {"enum": [a for a in CIRCULAR_AUDIENCES if a != "sections"]},
                    "sections": {"maxItems": 0},
                }
            },
        ]
    }

    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    audience = fields.String(load_default="all_sections", validate=validate.OneOf(CIRCULAR_AUDIENCES))
    sections = fields.List(
        fields.String(validate=CODE),
        load_default=list,
        validate=validate.Length(max=1000),
        metadata={"description": "with audience 'sections'"},
    )

    @validates_schema
    def _sections_with_their_audience(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("audience") == "sections" and not data.get("sections"):
            raise ValidationError("name at least one section for audience 'sections'", "sections")
        if data.get("audience") != "sections" and data.get("sections"):
            raise ValidationError("sections are chosen only with audience 'sections'", "sections")


class CircularView(Schema):
    id = fields.String()
    title = fields.String()
    body = fields.String()
    audience = fields.String()
    sections = fields.List(fields.String())
    recipients = fields.Integer()
    issued_by = fields.String()
    issued_at = fields.AwareDateTime(format="iso")
    event_id = fields.String()


class CredentialDelivery(Request):
    """The voting service's RPC payload to secretariat.deliver_credential (never over HTTP)."""

    member_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    body_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    credential = fields.String(required=True, validate=validate.Length(min=8, max=500))
