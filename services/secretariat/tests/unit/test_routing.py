from __future__ import annotations

from congress.contract.api import WEBHOOK_EVENT_TYPES
from congress.contract.catalogue import CATALOGUE
from secretariat.domain.routing import (
    CENTRE,
    RULES,
    Directory,
    SectionContact,
    Subscription,
    addressed,
    plan,
)

DIRECTORY = Directory(
    sections={
        "ew": SectionContact("ew", "Socialist Party", "sp@example.org", "section", hook="h-ew", hook_url="http://x/ew"),
        "fr": SectionContact("fr", "Gauche Révolutionnaire", "gr@example.org", "sympathising_group"),
        "zz": SectionContact("zz", "Gone", "gone@example.org", "dissolved"),
        "sx": SectionContact("sx", "Suspended", "sx@example.org", "suspended"),
    },
    iec_members={"m-1": ("Rosa", "rosa@example.org"), "m-2": ("Karl", None)},
    subscriptions=(
        Subscription("s-all", "http://outside/all", frozenset({"motion.decided", "section.status_changed"})),
        Subscription("s-ew", "http://outside/ew", frozenset({"motion.decided", "section.status_changed"}), "ew"),
        Subscription("s-fr", "http://outside/fr", frozenset({"section.status_changed"}), "fr"),
    ),
    centre_email="centre@example.org",
)


def test_the_centre_hears_of_new_sections_and_status_changes_and_the_section_of_its_own() -> None:
    assert addressed("section.registered", {"code": "ew"}, DIRECTORY) == [CENTRE]
    assert addressed("section.status_changed", {"code": "sx"}, DIRECTORY) == [CENTRE, "section:sx"]
    centre = plan("section.registered", {"code": "ew"}, DIRECTORY)[0]
    assert centre.inbox and centre.email == "centre@example.org" and centre.webhook is None


def test_every_section_but_dissolved_ones_hears_of_congress_decisions_on_every_channel() -> None:
    for event_type in ("congress.convened", "motion.decided", "election.result_declared"):
        assert addressed(event_type, {}, DIRECTORY) == ["section:ew", "section:fr", "section:sx"]
    ew = plan("motion.decided", {}, DIRECTORY)[0]
    assert (ew.inbox, ew.email, ew.webhook, ew.webhook_url) == (True, "sp@example.org", "h-ew", "http://x/ew")


def test_a_registered_webhook_hears_its_event_types_and_a_section_scoped_one_only_what_concerns_its_section() -> None:
    keys = [r.key for r in plan("motion.decided", {}, DIRECTORY)]
    assert "webhook:s-all" in keys and "webhook:s-ew" in keys

    about_fr = [r.key for r in plan("section.status_changed", {"code": "fr"}, DIRECTORY)]
    assert "webhook:s-fr" in about_fr and "webhook:s-all" in about_fr and "webhook:s-ew" not in about_fr
    assert [r.key for r in plan("congress.convened", {}, DIRECTORY) if r.key.startswith("webhook:")] == []


def test_circulars_go_to_all_sections_the_iec_or_the_chosen_sections() -> None:
    everyone = addressed("circular.issued", {"audience": "all_sections", "sections": []}, DIRECTORY)
    chosen = addressed("circular.issued", {"audience": "sections", "sections": ["fr", "ew", "fr"]}, DIRECTORY)
    iec = plan("circular.issued", {"audience": "iec", "sections": []}, DIRECTORY)

    assert everyone == ["section:ew", "section:fr", "section:sx"]
    assert chosen == ["section:ew", "section:fr"]
    assert [(r.key, r.email, r.inbox) for r in iec] == [
        ("member:m-1", "rosa@example.org", False),
        ("member:m-2", None, False),
    ]


def test_the_rules_name_only_catalogued_events_an_outside_system_may_also_subscribe_to() -> None:
    assert set(RULES) <= set(WEBHOOK_EVENT_TYPES) <= set(CATALOGUE)
