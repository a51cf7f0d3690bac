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


class UnknownEventType(LookupError):
    def __init__(self, event_type: str, version: int | None = None) -> None:
        what = event_type if version is None else f"{event_type} v{version}"
        super().__init__(f"no such event in the catalogue: {what}")


# type -> version -> (producer, schema class)
CATALOGUE: dict[str, dict[int, tuple[str, type[EventData]]]] = {
    "section.registered": {1: ("sections", SectionRegisteredV1)},
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
