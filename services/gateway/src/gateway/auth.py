"""Bearer tokens and roles (spec section 6). Tokens are compared as SHA-256 hashes only."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from dataclasses import dataclass

from congress.errors import Forbidden, NotAuthenticated

ROLES = ("admin", "secretariat", "section_officer", "delegate", "observer")


@dataclass(frozen=True)
class Principal:
    role: str
    section: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenBook:
    """The gateway's bootstrap tokens: ADMIN_TOKEN and, optionally, OBSERVER_TOKEN.

    Issued and revocable tokens for officers and delegates arrive with the features that need
    them; this book only ever holds hashes.
    """

    def __init__(self, hashes: dict[str, Principal]) -> None:
        self._hashes = hashes

    @classmethod
    def from_environment(cls) -> TokenBook:
        admin = os.environ.get("ADMIN_TOKEN")
        if not admin:
            admin = secrets.token_urlsafe(32)
            # Printed once so a newcomer can use the stack; set ADMIN_TOKEN to choose your own.
            print(f"gateway: ADMIN_TOKEN not set; generated admin token: {admin}", file=sys.stderr)
        hashes = {token_hash(admin): Principal("admin")}
        observer = os.environ.get("OBSERVER_TOKEN")
        if observer:
            hashes[token_hash(observer)] = Principal("observer")
        return cls(hashes)

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise NotAuthenticated("a bearer token is required (Authorization: Bearer …)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        presented = token_hash(token.strip())
        for known, principal in self._hashes.items():
            if hmac.compare_digest(known, presented):
                return principal
        raise NotAuthenticated("the bearer token is not valid")


def require(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}; your token has {principal.role}")
