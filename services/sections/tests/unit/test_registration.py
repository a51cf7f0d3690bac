from __future__ import annotations

from datetime import UTC, datetime

import pytest

from congress.contract.api import SectionRegistration, load
from congress.errors import Conflict, InvalidInput
from sections.domain.registry import Section, register

VALID = {"code": "ew", "name": "Socialist Party", "country": "England and Wales", "email": "sp@example.org"}


def test_a_section_defaults_to_full_status_and_no_webhook() -> None:
    fields = load(SectionRegistration(), VALID)

    assert fields["status"] == "section"
    assert fields["webhook_url"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "EW"}, "code"),
        ({"code": "e"}, "code"),
        ({"email": "nobody"}, "email"),
        ({"status": "faction"}, "status"),
        ({"name": ""}, "name"),
        ({"webhook_url": "ftp://example.org/x"}, "webhook_url"),
        ({"members": 10}, "members"),
    ],
)
def test_invalid_registrations_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        load(SectionRegistration(), {**VALID, **change})

    assert field in refused.value.fields


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput):
        load(SectionRegistration(), ["ew"])


def test_a_code_is_never_registered_twice() -> None:
    section = Section(**load(SectionRegistration(), VALID), registered_at=datetime.now(UTC))

    assert register(None, section) is section
    with pytest.raises(Conflict) as refused:
        register(section, section)
    assert refused.value.fields == {"code": ["already registered"]}
