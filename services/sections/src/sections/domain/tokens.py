"""Bearer tokens the Centre issues, for every role but the delegate's (a credential, issued at
accreditation by the voting service): who may hold one, and what it looks like."""

from __future__ import annotations

from congress.errors import InvalidInput

# The delegate's credential comes from accreditation, never from here.
ISSUABLE_ROLES = ("admin", "secretariat", "section_officer", "observer")


def check_request(role: str, section: str | None) -> None:
    """A section officer's token belongs to one section; no other role's does."""
    if role not in ISSUABLE_ROLES:
        raise InvalidInput(f"tokens are issued for {', '.join(ISSUABLE_ROLES)}", {"role": ["not issuable"]})
    if role == "section_officer" and not section:
        raise InvalidInput("a section officer's token names its section", {"section": ["required for section_officer"]})
    if role != "section_officer" and section:
        raise InvalidInput(f"a {role} token is for no section", {"section": [f"not allowed for {role}"]})


def prefix(role: str) -> str:
    """Recognisable at a glance (and by the log redactor): `so_` for officers, `ts_` for the rest."""
    return "so_" if role == "section_officer" else "ts_"
