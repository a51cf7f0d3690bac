from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from congress.actors import Actor
from congress.contract import Envelope, new_envelope
from congress.contract.api import WEBHOOK_EVENT_TYPES
from congress.contract.catalogue import CATALOGUE
from secretariat import handlers
from secretariat.delivery import DeliveryWorker
from secretariat.domain.routing import (
    CENTRE,
    RULES,
    Directory,
    SectionContact,
    Subscription,
    addressed,
    plan,
    send_when_address_known,
)
from secretariat.settings import Settings
from tests.support.mailbox import Mailbox

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


def test_a_recent_notice_to_a_member_goes_out_once_their_address_is_known_and_an_old_one_does_not() -> None:
    now = datetime(2027, 1, 10, 12, tzinfo=UTC)

    assert send_when_address_known("member:m-3", now - timedelta(minutes=5), now)
    assert not send_when_address_known("member:m-3", now - timedelta(days=2), now)  # news no longer
    assert not send_when_address_known("section:ew", now, now)  # a section's address comes with it


def apply(store: Any, event: Envelope, handler: Any, *args: Any) -> None:
    """As @idempotent does: claim, apply, commit."""
    with store.unit_of_work() as uow:
        assert uow.claim(event.event_id, f"secretariat.{handler.__name__}")
        handler(uow, event, *args)
        uow.commit()


def test_an_iec_circular_reaches_a_member_whose_address_arrives_after_it(store: Any) -> None:
    # The election that seats Clara in the IEC and the circular to the IEC can overtake her
    # accreditation (another queue): once her address is known, the circular is emailed to her, once.
    with Mailbox() as mailbox:
        settings = Settings(smtp_host=mailbox.host, smtp_port=mailbox.port, max_attempts=3, backoff_base=0.0)
        rosa = {"member_id": "m-1", "body_id": "c", "name": "Rosa", "section": "ew", "deliberative": True}
        apply(
            store,
            new_envelope("delegate.accredited", rosa | {"email": "r@x.org"}, "voting"),
            handlers.delegate_accredited,
        )
        changed = {
            "body_id": "iec-1",
            "kind": "iec",
            "members": ["m-1", "m-2"],
            "added": [],
            "removed": [],
            "reason": "x",
        }
        apply(
            store,
            new_envelope("body.membership_changed", changed, "voting"),
            handlers.body_membership_changed,
            settings,
        )
        circular = {"title": "IEC meets", "body": "Monday.", "audience": "iec"}
        assert handlers.issue_circular(store, Actor("admin"), circular, settings)["recipients"] == 2

        clara = {"member_id": "m-2", "body_id": "iec-1", "name": "Clara", "email": "c@x.org", "deliberative": True}
        for _ in range(2):  # accredited again later (another body): no second email
            apply(store, new_envelope("delegate.accredited", clara, "voting"), handlers.delegate_accredited, settings)
        worker = DeliveryWorker(store.sessions, settings)
        while worker.run_due():
            pass

        assert [m.subject for m in mailbox.to("c@x.org")] == ["IEC meets"]
        assert [m.subject for m in mailbox.to("r@x.org")] == ["IEC meets"]
