"""Every event the service can publish validates against its published schema, formats checked.

A subscriber validates with a standard validator that checks formats (ajv does by default):
an event the catalogue lets through but its published schema rejects is a broken contract.
The validator here is `jsonschema` with its format checkers (uri: rfc3986-validator, date-time:
rfc3339-validator), through `tests/support/asyncapi_check.py`, which e2e tests reuse.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from congress.contract import CATALOGUE, new_envelope
from congress.contract.asyncapi import asyncapi_document
from congress.contract.catalogue import HttpUrl, producer_of
from tests.support.asyncapi_check import FORMAT_CHECKER, validate_event
from tests.unit.test_asyncapi import EXAMPLES

DOCUMENT = asyncapi_document()
# Realistic variants beyond the one example per type: the URL and nullable shapes the API takes.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("section.registered", {"webhook_url": "http://receiver:8080/hook"}),  # a compose service name
    ("section.registered", {"webhook_url": "https://hooks.example.org/congress?token=a%2Fb&x=1#frag"}),
    ("section.registered", {"webhook_url": "http://127.0.0.1:9000/hook", "status": "sympathising_group"}),
    ("section.registered", {"webhook_url": "http://[::1]:8080/hook", "registered_at": "2026-11-24T10:00:00.5Z"}),
    ("section.updated", {"webhook_url": "https://user:pw@example.org/h/%C3%BC", "changed": ["webhook_url"]}),
    ("delegate.accredited", {"email": "rosa@example.org", "section": None, "deliberative": False}),
    ("election.result_declared", {"fills_body_id": None}),
    ("notification.failed", {"notification_id": None, "event_id": None}),
]
CASES = [(t, data) for t, data in EXAMPLES.items()] + [(t, {**EXAMPLES[t], **extra}) for t, extra in VARIANTS]


def test_every_event_type_has_an_example() -> None:
    assert {t for t, _ in CASES} == set(CATALOGUE)


@pytest.mark.parametrize(("event_type", "data"), CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_a_published_event_validates_against_its_published_schema(event_type: str, data: dict[str, Any]) -> None:
    # Built as the services build them: new_envelope loads and dumps through the catalogue.
    envelope = new_envelope(event_type, data, producer=producer_of(event_type), correlation_id="req-1")

    validate_event(DOCUMENT, envelope)
    validate_event(DOCUMENT, envelope.to_wire())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("webhook_url", "http://example.org/ü"),  # an IRI, not a URI
        ("webhook_url", "http://example.org/{x}"),
        ("webhook_url", "not a url"),
        ("registered_at", "24/11/2026"),
        ("email", "nobody"),
    ],
)
def test_the_format_checks_are_live(field: str, value: str) -> None:
    # What a subscriber's validator rejects must be rejected here too, or the checks above prove nothing.
    wire = new_envelope("section.registered", EXAMPLES["section.registered"], producer="sections").to_wire()
    wire["data"][field] = value

    with pytest.raises(jsonschema.ValidationError):
        validate_event(DOCUMENT, wire)


@pytest.mark.parametrize(("field", "value"), [("event_id", "e-1"), ("occurred_at", "2026-11-24 10:00")])
def test_the_envelope_formats_are_checked(field: str, value: str) -> None:
    wire = new_envelope("congress.closed", EXAMPLES["congress.closed"], producer="voting").to_wire()

    with pytest.raises(jsonschema.ValidationError):
        validate_event(DOCUMENT, {**wire, field: value})


class _Url(Schema):
    url = HttpUrl(required=True)


def _loads(value: str) -> bool:
    try:
        _Url().load({"url": value})
    except ValidationError:
        return False
    return True


def test_single_label_hosts_are_urls_and_non_uris_are_not() -> None:
    # The API's shape (require_tld=False) and JSON Schema's `uri` at once.
    assert _loads("http://receiver:8080/hook")
    assert _loads("https://hooks.example.org/a%20b?q=%C3%BC")
    for value in (
        "http://example.org/ü",
        "http://exämple.org/",
        "http://a.org/a|b",
        "http://a.org/%zz",
        "ftp://a.org/",
    ):
        assert not _loads(value), value


URL_CHARS = st.sampled_from([*"aZ09-._~!$&'()*+,;=:@/?#[]%", "%2F", "%zz", "ü", "{", "|", "\\", "^", "`", '"'])


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    host=st.sampled_from(["receiver", "example.org", "127.0.0.1", "[::1]", "[fe80::1]", "xn--exmple-cua.org"]),
    port=st.sampled_from(["", ":8080", ":1"]),
    rest=st.lists(URL_CHARS, max_size=12).map("".join),
)
def test_every_url_the_field_accepts_is_a_json_schema_uri(scheme: str, host: str, port: str, rest: str) -> None:
    value = f"{scheme}://{host}{port}/{rest}"
    if _loads(value):
        assert FORMAT_CHECKER.conforms(value, "uri"), value
