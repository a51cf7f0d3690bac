"""What the Secretariat tells whom about an event. No framework, no database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CENTRE = "centre"


@dataclass(frozen=True)
class Notice:
    recipient: str
    subject: str
    body: str


def for_section_registered(data: dict[str, Any]) -> list[Notice]:
    return [
        Notice(
            recipient=CENTRE,
            subject=f"Section registered: {data['name']} ({data['country']})",
            body=(
                f"The section {data['name']} of {data['country']} has joined the registry "
                f"with code {data['code']!r} and status {data['status']}. Contact: {data['email']}."
            ),
        )
    ]
