"""The registry of sections, in the organisation's words. No framework, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from congress.errors import Conflict


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
