"""Every event type the platform publishes, with the schema of its `data` per version.

The event catalogue of spec section 3 grows here, one schema per type and version, as the
features that emit them land.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

SECTION_STATUSES = ("section", "sympathising_group", "suspended", "dissolved")


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
    webhook_url = fields.Url(allow_none=True, load_default=None)
    registered_at = fields.AwareDateTime(required=True, format="iso")


class SectionUpdatedV1(EventData):
    """A section's name or contacts changed; every field is its value after the change."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.Email(required=True)
    webhook_url = fields.Url(allow_none=True, load_default=None)
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
}


def data_schema(event_type: str, version: int) -> EventData:
    try:
        return CATALOGUE[event_type][version][1]()
    except KeyError:
        raise UnknownEventType(event_type, version) from None


def producer_of(event_type: str) -> str:
    versions = CATALOGUE.get(event_type)
    if not versions:
        raise UnknownEventType(event_type)
    return next(iter(versions.values()))[0]
