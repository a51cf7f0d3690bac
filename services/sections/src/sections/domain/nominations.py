"""Delegate nominations: a section nominates up to its allocation and may withdraw."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from congress.errors import Conflict

NOMINATED, WITHDRAWN = "nominated", "withdrawn"


@dataclass
class Nomination:
    id: str
    apportionment_id: str
    code: str
    name: str
    email: str
    status: str
    nominated_at: datetime
    withdrawn_at: datetime | None = None


def check_room(code: str, allocation: int, standing: Iterable[Nomination], email: str) -> None:
    """A section's standing nominations never exceed its delegate seats, nor name one person twice."""
    standing = [n for n in standing if n.status == NOMINATED]
    if any(n.email.lower() == email.lower() for n in standing):
        raise Conflict(f"{email} is already nominated by section {code!r}", {"email": ["already nominated"]})
    if len(standing) >= allocation:
        raise Conflict(
            f"section {code!r} has {allocation} delegate seat(s) and {len(standing)} standing nomination(s)",
            {"_schema": ["no delegate seat left; withdraw a nomination first"]},
        )


def withdraw(nomination: Nomination, at: datetime) -> None:
    if nomination.status != NOMINATED:
        raise Conflict(f"nomination {nomination.id} is already withdrawn", {"id": ["already withdrawn"]})
    nomination.status = WITHDRAWN
    nomination.withdrawn_at = at
