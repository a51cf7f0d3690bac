"""A World Congress's life: planned → convened → in_session → closed."""

from __future__ import annotations

from congress.errors import Conflict

LIFECYCLE = ("planned", "convened", "in_session", "closed")


def next_status(current: str, wanted: str) -> str:
    """Only one step forward at a time; a congress never goes back."""
    if wanted not in LIFECYCLE:
        raise Conflict(f"a congress has no status {wanted!r}", {"status": [f"one of {', '.join(LIFECYCLE)}"]})
    if LIFECYCLE.index(wanted) != LIFECYCLE.index(current) + 1:
        raise Conflict(f"a {current} congress cannot become {wanted}", {"status": [f"currently {current}"]})
    return wanted


def may_vote(status: str) -> None:
    if status != "in_session":
        raise Conflict(f"the congress is {status}; ballots open only while it is in session", {})
