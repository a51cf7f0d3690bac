from __future__ import annotations

import pytest
from marshmallow import ValidationError

from congress.contract import EnvelopeSchema, UnknownEventType, new_envelope

SECTION = {
    "code": "ew",
    "name": "Socialist Party",
    "country": "England and Wales",
    "status": "section",
    "email": "sp@example.org",
    "webhook_url": None,
    "registered_at": "2026-11-24T10:00:00+00:00",
}


def test_an_envelope_survives_the_wire_as_plain_json() -> None:
    envelope = new_envelope("section.registered", SECTION, producer="sections", correlation_id="req-1")

    wire = envelope.to_wire()
    back = EnvelopeSchema().load(wire)

    assert isinstance(wire["event_id"], str) and isinstance(wire["occurred_at"], str)
    assert wire["occurred_at"].endswith("+00:00")
    assert back == envelope


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        new_envelope("section.annexed", SECTION, producer="sections")
    wire = new_envelope("section.registered", SECTION, producer="sections").to_wire()
    with pytest.raises(ValidationError, match="unknown event type"):
        EnvelopeSchema().load({**wire, "type": "section.annexed"})


def test_an_unknown_version_is_refused() -> None:
    wire = new_envelope("section.registered", SECTION, producer="sections").to_wire()
    with pytest.raises(ValidationError):
        EnvelopeSchema().load({**wire, "version": 99})


def test_data_missing_a_required_field_is_refused_at_both_ends() -> None:
    incomplete = {k: v for k, v in SECTION.items() if k != "country"}
    with pytest.raises(ValidationError):
        new_envelope("section.registered", incomplete, producer="sections")
    wire = new_envelope("section.registered", SECTION, producer="sections").to_wire()
    wire["data"].pop("country")
    with pytest.raises(ValidationError, match="country"):
        EnvelopeSchema().load(wire)


def test_a_newer_minor_version_with_an_extra_optional_field_still_loads() -> None:
    wire = new_envelope("section.registered", SECTION, producer="sections").to_wire()
    wire["data"]["language"] = "en"

    assert EnvelopeSchema().load(wire).data["language"] == "en"


def test_the_envelope_itself_admits_no_unknown_fields() -> None:
    wire = new_envelope("section.registered", SECTION, producer="sections").to_wire()
    with pytest.raises(ValidationError):
        EnvelopeSchema().load({**wire, "extra": 1})
