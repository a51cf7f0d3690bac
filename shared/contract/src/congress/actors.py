"""Who is acting, and the role rules every entrypoint applies (spec section 6)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from congress.errors import Forbidden

# The vocabulary of roles: tokens carry one, routes declare which they admit (gateway/service.py).
ADMIN = "admin"
SECRETARIAT = "secretariat"
SECTION_OFFICER = "section_officer"
DELEGATE = "delegate"
OBSERVER = "observer"
ROLES = (ADMIN, SECRETARIAT, SECTION_OFFICER, DELEGATE, OBSERVER)
STAFF = (ADMIN, SECRETARIAT)  # the Centre
ANYONE = ROLES  # any valid token, of any role


def known_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    """`roles` unchanged if each is in the vocabulary; a typo fails at import, not at run time."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown}; roles are {', '.join(ROLES)}")
    return roles


@dataclass(frozen=True)
class Actor:
    role: str
    section: str | None = None
    token_id: str | None = None
    member: str | None = None  # a delegate's or IEC/IS member's id in the voting service

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, raw: dict[str, Any] | None) -> Actor:
        if not raw or raw.get("role") not in ROLES:
            raise Forbidden("no acting role was given")
        return cls(role=raw["role"], section=raw.get("section"), token_id=raw.get("token_id"), member=raw.get("member"))

    @property
    def label(self) -> str:
        return f"{self.role}:{self.section}" if self.section else self.role


def require_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}; your token has {actor.role}")


def require_roles(actor: Actor, roles: tuple[str, ...], section: str | None = None) -> None:
    """The rule a route declares: one of `roles`; and a section officer only for `section`, if given."""
    if section is not None and set(roles) == {ADMIN, SECTION_OFFICER}:
        require_section(actor, section)  # its messages name the section
        return
    require_role(actor, *roles)
    if section is not None and actor.role == SECTION_OFFICER and actor.section != section:
        raise Forbidden(f"your token is for section {actor.section!r}, not {section!r}")


def require_section(actor: Actor, code: str) -> None:
    """Admins act for every section; a section officer only for their own."""
    if actor.role == "admin":
        return
    if actor.role == "section_officer" and actor.section == code:
        return
    if actor.role == "section_officer":
        raise Forbidden(f"your token is for section {actor.section!r}, not {code!r}")
    raise Forbidden(f"this needs an admin or an officer of section {code!r}; your token has {actor.role}")
