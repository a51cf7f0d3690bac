"""What the Secretariat says about an event: a subject and a summary. No framework, no database.

The templates (secretariat/templates) give the message its form, plain text and HTML; what it
says is decided here so it can be read and tested in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from secretariat.domain.routing import CENTRE

__all__ = ["CENTRE", "Message", "Notice", "for_section_registered", "message"]


@dataclass(frozen=True)
class Notice:
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class Message:
    subject: str
    summary: str


def _section_registered(data: Mapping[str, Any]) -> Message:
    return Message(
        subject=f"Section registered: {data['name']} ({data['country']})",
        summary=(
            f"The section {data['name']} of {data['country']} has joined the registry "
            f"with code {data['code']!r} and status {data['status']}. Contact: {data['email']}."
        ),
    )


def _section_status_changed(data: Mapping[str, Any]) -> Message:
    return Message(
        subject=f"Section {data['code']}: status now {data['status']}",
        summary=(
            f"The status of section {data['code']!r} changed from {data['previous_status']} to "
            f"{data['status']}. Reason given: {data['reason']}"
        ),
    )


def _congress_convened(data: Mapping[str, Any]) -> Message:
    return Message(
        subject=f"Congress convened: {data['title']}",
        summary=f"{data['title']} has been convened, with {data['delegates']} nominated delegate(s) to accredit.",
    )


OUTCOMES = {"adopted": "adopted", "rejected": "rejected", "no_quorum": "not decided: the quorum was not reached"}


def _motion_decided(data: Mapping[str, Any]) -> Message:
    tally = data.get("tally") or {}
    counts = ", ".join(f"{choice} {tally[choice]}" for choice in ("yes", "no", "abstain") if choice in tally)
    return Message(
        subject=f"Motion {data['outcome'].replace('_', ' ')}: {data['title']}",
        summary=(
            f"The motion “{data['title']}” was {OUTCOMES.get(data['outcome'], data['outcome'])} ({counts}; "
            f"majority rule {data['majority_rule']} {'met' if data['majority_met'] else 'not met'}, "
            f"quorum {data['quorum']} {'met' if data['quorum_met'] else 'not met'})."
        ),
    )


def _election_result_declared(data: Mapping[str, Any]) -> Message:
    elected = ", ".join(e["name"] for e in data.get("elected") or []) or "nobody"
    return Message(
        subject=f"Election result: {data['title']}",
        summary=f"Elected to {data['seats']} seat(s), in order of election: {elected} (method {data['method']}).",
    )


def _circular_issued(data: Mapping[str, Any]) -> Message:
    return Message(subject=data["title"], summary=data["body"])


MESSAGES: dict[str, Callable[[Mapping[str, Any]], Message]] = {
    "section.registered": _section_registered,
    "section.status_changed": _section_status_changed,
    "congress.convened": _congress_convened,
    "motion.decided": _motion_decided,
    "election.result_declared": _election_result_declared,
    "circular.issued": _circular_issued,
}


def message(event_type: str, data: Mapping[str, Any]) -> Message:
    """What to say about an event; a plain line for types with no message of their own."""
    writer = MESSAGES.get(event_type)
    if writer is None:
        return Message(subject=f"Notice: {event_type}", summary=f"The platform published {event_type}.")
    return writer(data)


def for_section_registered(data: Mapping[str, Any]) -> list[Notice]:
    said = _section_registered(data)
    return [Notice(recipient=CENTRE, subject=said.subject, body=said.summary)]
