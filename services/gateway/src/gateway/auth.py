"""Bearer tokens (spec section 6): compared as SHA-256 hashes only, never kept in clear."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys

from congress.actors import Actor
from congress.errors import NotAuthenticated

# Placeholders people leave in config files: never an admin token.
WEAK_TOKENS = {"", "change-me", "changeme", "admin", "secret", "password", "token"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token(authorization: str | None) -> str:
    if not authorization:
        raise NotAuthenticated("a bearer token is required (Authorization: Bearer …)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class TokenBook:
    """The gateway's bootstrap tokens: ADMIN_TOKEN and, optionally, OBSERVER_TOKEN.

    Section officers' tokens are issued, kept (as hashes) and revoked by the sections service.
    """

    def __init__(self, hashes: dict[str, Actor]) -> None:
        self._hashes = hashes

    @classmethod
    def from_environment(cls) -> TokenBook:
        admin = os.environ.get("ADMIN_TOKEN", "").strip()
        if admin.lower() in WEAK_TOKENS or len(admin) < 12:
            if admin:
                print("gateway: ADMIN_TOKEN is a placeholder or under 12 characters; ignored", file=sys.stderr)
            admin = secrets.token_urlsafe(32)
            # Printed once so a newcomer can use the stack; set ADMIN_TOKEN to choose your own.
            print(f"gateway: ADMIN_TOKEN not set; generated admin token: {admin}", file=sys.stderr)
        hashes = {token_hash(admin): Actor("admin")}
        observer = os.environ.get("OBSERVER_TOKEN")
        if observer:
            hashes[token_hash(observer)] = Actor("observer")
        return cls(hashes)

    def find(self, presented_hash: str) -> Actor | None:
        for known, actor in self._hashes.items():
            if hmac.compare_digest(known, presented_hash):
                return actor
        return None


def receipt_key(credential: str, ballot_id: str) -> str:
    """A one-time key, per voter and ballot, that only the holder of the credential can make.

    The voting service seals the voter's (random) receipt with it while the ballot is open, so a
    retried vote gets the same receipt back; the sealed copy is erased at the close. The receipt
    itself is random, so knowing a credential later reveals nothing of how its holder voted."""
    return hmac.new(credential.encode(), f"congress-receipt-key:{ballot_id}".encode(), hashlib.sha256).hexdigest()[:32]
