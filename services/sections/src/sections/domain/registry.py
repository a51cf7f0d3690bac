"""The registry of sections, in the organisation's words. No framework, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from congress.errors import Conflict, InvalidInput


@dataclass
class Section:
    code: str
    name: str
    country: str
    status: str
    email: str
    webhook_url: str | None
    registered_at: datetime


def register(existing: Section | None, candidate: Section) -> Section:
    """A code is a section's id in every URL and event, so it is never reused."""
    if existing is not None:
        raise Conflict(
            f"a section with code {candidate.code!r} is already registered",
            {"code": ["already registered"]},
        )
    return candidate


def update_contacts(section: Section, changes: dict[str, Any]) -> list[str]:
    """Apply name/email/webhook changes; returns the fields that really changed."""
    changed = []
    for field in ("name", "email", "webhook_url"):
        if field in changes and getattr(section, field) != changes[field]:
            setattr(section, field, changes[field])
            changed.append(field)
    return changed


def change_status(section: Section, status: str, reason: str) -> str:
    """Move a section to another status; returns the previous one."""
    if section.status == status:
        raise Conflict(f"section {section.code!r} already has status {status}", {"status": [f"already {status}"]})
    if not reason.strip():
        raise InvalidInput("a status change needs a reason", {"reason": ["give a reason"]})
    previous, section.status = section.status, status
    return previous


def may_file_returns(section: Section) -> None:
    if section.status == "dissolved":
        raise Conflict(f"section {section.code!r} is dissolved and files no returns", {"code": ["dissolved"]})


def may_have_officers(section: Section) -> None:
    if section.status == "dissolved":
        raise Conflict(f"section {section.code!r} is dissolved and has no officers", {"code": ["dissolved"]})


def entitled_to_delegates(section: Section) -> bool:
    """Only sections with full rights get deliberative delegates (spec section 1)."""
    return section.status == "section"
