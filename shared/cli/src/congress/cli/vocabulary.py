"""The choices the commands offer, taken from the contract's one vocabulary (never redeclared).

Imported by the command modules only, when a command runs or shows its help: the contract pulls
in marshmallow, which `congress --help` does without.
"""

from __future__ import annotations

from typing import Any

from marshmallow import validate

from congress.contract import api
from congress.contract.api import (
    APPORTIONMENT_METHODS,
    CIRCULAR_AUDIENCES,
    DELIVERY_CHANNELS,
    DELIVERY_STATUSES,
    MAJORITY_RULES,
    TOKEN_ROLES,
    WEBHOOK_EVENT_TYPES,
)
from congress.contract.catalogue import SECTION_STATUSES


def one_of(schema: type[Any], name: str) -> tuple[str, ...]:
    """The choices a request schema's field accepts, for a vocabulary the contract declares only there."""
    for validator in schema._declared_fields[name].validators:
        if isinstance(validator, validate.OneOf):
            return tuple(validator.choices)
    raise LookupError(f"{schema.__name__}.{name} declares no choices")


# Named tuples where the contract has them; the schema's own choices where it has none yet.
ELECTION_METHODS: tuple[str, ...] = getattr(api, "ELECTION_METHODS", None) or one_of(api.ElectionCreation, "method")
SECRECIES: tuple[str, ...] = getattr(api, "SECRECIES", None) or one_of(api.BallotOpening, "secrecy")
VOTE_CHOICES: tuple[str, ...] = getattr(api, "VOTE_CHOICES", None) or one_of(api.VoteSubmission, "choice")
CREATED_BODY_KINDS: tuple[str, ...] = one_of(api.BodyCreation, "kind")

__all__ = [
    "APPORTIONMENT_METHODS",
    "CIRCULAR_AUDIENCES",
    "CREATED_BODY_KINDS",
    "DELIVERY_CHANNELS",
    "DELIVERY_STATUSES",
    "ELECTION_METHODS",
    "MAJORITY_RULES",
    "SECRECIES",
    "SECTION_STATUSES",
    "TOKEN_ROLES",
    "VOTE_CHOICES",
    "WEBHOOK_EVENT_TYPES",
]
