"""Membership returns: dated counts a section files; the latest by a cut-off is what counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class MembershipReturn:
    id: str
    code: str
    as_of: date
    members: int
    supporters: int
    filed_at: datetime
    filed_by: str


def latest_by(returns: Iterable[MembershipReturn], cutoff: date) -> dict[str, MembershipReturn]:
    """Each section's latest return on or before `cutoff`; a later filing for the same date corrects it."""
    latest: dict[str, MembershipReturn] = {}
    for filed in returns:
        if filed.as_of > cutoff:
            continue
        current = latest.get(filed.code)
        if current is None or (filed.as_of, filed.filed_at) > (current.as_of, current.filed_at):
            latest[filed.code] = filed
    return latest
