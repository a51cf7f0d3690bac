"""Who hears of what: the Secretariat's rules of address, in one place. No framework, no database.

A recipient is a key: `centre`, `section:<code>`, `member:<id>` (a delegate or an IEC/IS
member) or `webhook:<subscription id>` (an outside system). Each has its channels:

| recipient | inbox | email                  | webhook                                 |
|-----------|-------|------------------------|-----------------------------------------|
| centre    | yes   | CENTRE_EMAIL, if set   | -                                       |
| section   | yes   | its contact email      | its contact webhook_url, if set         |
| member    | -     | their email, if known  | -                                       |
| webhook   | -     | -                      | the registered URL                      |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

CENTRE = "centre"

# Audiences an event type is addressed to. `subject_section` is the section the event is about.
CENTRE_AUDIENCE = "centre"
SUBJECT_SECTION = "subject_section"
ALL_SECTIONS = "all_sections"
CIRCULAR_AUDIENCE = "circular"  # all sections, the IEC or chosen sections, as the circular says

RULES: dict[str, tuple[str, ...]] = {
    "section.registered": (CENTRE_AUDIENCE,),
    # The section hears of its own suspension (or reinstatement) as well as the Centre.
    "section.status_changed": (CENTRE_AUDIENCE, SUBJECT_SECTION),
    "congress.convened": (ALL_SECTIONS,),
    "motion.decided": (ALL_SECTIONS,),
    "election.result_declared": (ALL_SECTIONS,),
    "circular.issued": (CIRCULAR_AUDIENCE,),
}

# Sections that no longer exist hear of nothing; suspended ones are still told.
SILENT_STATUSES = frozenset({"dissolved"})

# A member's address may be learnt after a notice to them was written (an election seats them in
# the IEC, and its circular overtakes their accreditation on another queue): such a notice is
# emailed once the address is known, if it is this recent. An older one is news no longer.
LATE_ADDRESS_WINDOW = timedelta(days=1)


def section_key(code: str) -> str:
    return f"section:{code}"


def member_key(member_id: str) -> str:
    return f"member:{member_id}"


def webhook_key(subscription_id: str) -> str:
    return f"webhook:{subscription_id}"


@dataclass(frozen=True)
class Recipient:
    key: str
    name: str
    email: str | None = None
    webhook: str | None = None  # the id of the signed webhook subscription that serves it
    webhook_url: str | None = None
    inbox: bool = False


@dataclass(frozen=True)
class Subscription:
    """A registered webhook: `event_types` it wants; if `section` is set, only events to or about it."""

    id: str
    url: str
    event_types: frozenset[str]
    section: str | None = None


@dataclass(frozen=True)
class SectionContact:
    code: str
    name: str
    email: str
    status: str
    hook: str | None = None  # the contact webhook's subscription id, when it has a webhook_url
    hook_url: str | None = None


@dataclass
class Directory:
    """What the Secretariat knows of its recipients, as the rules need it."""

    sections: Mapping[str, SectionContact] = field(default_factory=dict)
    iec_members: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> (name, email)
    subscriptions: Sequence[Subscription] = ()
    centre_email: str | None = None


def subject_section(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The section an event is about, if any (section.* events carry its code)."""
    return data.get("code") if event_type.startswith("section.") else None


def circular_sections(data: Mapping[str, Any], directory: Directory) -> list[str]:
    if data.get("audience") == "all_sections":
        return [c for c, s in sorted(directory.sections.items()) if s.status not in SILENT_STATUSES]
    if data.get("audience") == "sections":
        return sorted(set(data.get("sections") or ()))
    return []


def addressed(event_type: str, data: Mapping[str, Any], directory: Directory) -> list[str]:
    """The recipient keys an event is addressed to by the rules (webhook subscriptions aside)."""
    keys: list[str] = []
    for audience in RULES.get(event_type, ()):
        if audience == CENTRE_AUDIENCE:
            keys.append(CENTRE)
        elif audience == SUBJECT_SECTION:
            code = subject_section(event_type, data)
            if code in directory.sections:
                keys.append(section_key(code))
        elif audience == ALL_SECTIONS:
            keys += [section_key(c) for c, s in sorted(directory.sections.items()) if s.status not in SILENT_STATUSES]
        elif audience == CIRCULAR_AUDIENCE:
            if data.get("audience") == "iec":
                keys += [member_key(m) for m in sorted(directory.iec_members)]
            else:
                keys += [section_key(c) for c in circular_sections(data, directory) if c in directory.sections]
    return list(dict.fromkeys(keys))  # once each, in order


def send_when_address_known(recipient: str, written_at: datetime, now: datetime) -> bool:
    """Whether a notice written to `recipient` with no address to email it to goes out now that
    one is known: only a member's (sections and the Centre have theirs), and only a recent one."""
    return recipient.startswith("member:") and now - written_at <= LATE_ADDRESS_WINDOW


def wants(subscription: Subscription, event_type: str, data: Mapping[str, Any], keys: Iterable[str]) -> bool:
    if event_type not in subscription.event_types:
        return False
    if subscription.section is None:
        return True
    return section_key(subscription.section) in keys or subject_section(event_type, data) == subscription.section


def plan(event_type: str, data: Mapping[str, Any], directory: Directory) -> list[Recipient]:
    """Everyone who hears of this event, each with the channels to reach them by."""
    keys = addressed(event_type, data, directory)
    recipients: list[Recipient] = []
    for key in keys:
        kind, _, ident = key.partition(":")
        if key == CENTRE:
            recipients.append(Recipient(CENTRE, "comrades at the Centre", email=directory.centre_email, inbox=True))
        elif kind == "section":
            s = directory.sections[ident]
            recipients.append(Recipient(key, s.name, email=s.email, webhook=s.hook, webhook_url=s.hook_url, inbox=True))
        elif kind == "member":
            name, email = directory.iec_members[ident]
            recipients.append(Recipient(key, name, email=email))
    for subscription in directory.subscriptions:
        if wants(subscription, event_type, data, keys):
            recipients.append(
                Recipient(
                    webhook_key(subscription.id),
                    subscription.url,
                    webhook=subscription.id,
                    webhook_url=subscription.url,
                )
            )
    return recipients
