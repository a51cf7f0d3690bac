from __future__ import annotations

from secretariat.domain.notices import CENTRE, for_section_registered


def test_the_centre_hears_of_every_new_section() -> None:
    notices = for_section_registered(
        {
            "code": "ew",
            "name": "Socialist Party",
            "country": "England and Wales",
            "status": "section",
            "email": "sp@example.org",
        }
    )

    assert [n.recipient for n in notices] == [CENTRE]
    assert "Socialist Party" in notices[0].subject
    assert "'ew'" in notices[0].body and "sp@example.org" in notices[0].body
